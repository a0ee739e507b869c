//! Notifications end to end: the real server and the real dispatcher against lark-sim
//! over HTTP, time from a manual clock (nothing sleeps).

use chrono::TimeDelta;
use desk_core::notify::{Happening, NotificationBody, NotifyClass, Recipient};
use desk_core::{OrgId, PersonId};
use desk_store::NotificationRequest;
use lark_sim::{FaultApply, FaultKind, FaultSpec};
use serde_json::{Value, json};

use crate::on_both_databases;
use crate::support::Db;
use crate::support::lark::{LarkDesk, bare_desk, sim_with};

const MESSAGES: &str = "/open-apis/im/v1/messages";

fn minutes(m: i64) -> TimeDelta {
    TimeDelta::minutes(m)
}

fn person_id(p: &Value) -> PersonId {
    p["id"].as_str().unwrap().parse().unwrap()
}

async fn assign(desk: &LarkDesk, token: &str, ticket: &Value, to: &Value) {
    desk.app
        .post(
            &format!("/api/v1/tickets/{}/assign", ticket["id"].as_str().unwrap()),
            token,
            json!({ "assignee_id": to["id"] }),
        )
        .await
        .expect(200);
}

/// Ticket created → assignee and TAM; status changed and staff comments → the group;
/// internal notes → the assignee only; assigned → the new assignee. Nobody hears of
/// what they did themselves, and cards speak the reader's language.
async fn each_rule_tells_the_right_people(db: Db) {
    let desk = LarkDesk::spawn(db, 5, 10_000).await;
    let tam = desk.staff(0, "tam").await;
    let engineer = desk.staff(1, "engineer").await;
    let second = desk.staff(3, "engineer").await;
    desk.app
        .patch(
            &format!("/api/v1/people/{}", second["id"].as_str().unwrap()),
            &desk.app.admin,
            json!({ "locale": "zh" }),
        )
        .await
        .expect(200);
    let chat = desk.chat("Acme support", &[0, 2]).await;
    let org = desk
        .app
        .post("/api/v1/orgs", &desk.app.admin, json!({ "name": "Acme", "tam_id": tam["id"], "main_chat_id": chat }))
        .await
        .expect(201);
    let customer = desk.customer(&org, 2).await;
    let engineer_token = desk.app.token_for(&engineer).await;
    let tam_token = desk.app.token_for(&tam).await;

    let ticket = desk
        .app
        .post(
            "/api/v1/tickets",
            &desk.app.admin,
            json!({ "org_id": org["id"], "title": "Gateway <at user_id=\"all\"></at> drops", "requester_id": customer["id"],
                    "assignee_id": engineer["id"], "severity": "P2" }),
        )
        .await
        .expect(201);
    let id = ticket["id"].as_str().unwrap();
    desk.app
        .post(&format!("/api/v1/tickets/{id}/transition"), &engineer_token, json!({ "to": "in_progress" }))
        .await
        .expect(200);
    let report = desk.dispatch().await;
    assert_eq!(report.sent, 3, "{report:?}");

    let to_engineer = desk.cards_to(1);
    assert_eq!(to_engineer.len(), 1, "the assignee hears of the new ticket once, not once per rule");
    assert!(to_engineer[0].content.contains("Gateway"));
    assert!(!to_engineer[0].content.contains("<at"), "people's words cannot @mention anyone");
    assert_eq!(desk.cards_to(0).len(), 1, "the TAM hears of the new ticket");
    let in_chat: Vec<_> = desk.cards().into_iter().filter(|m| m.receive_id == chat).collect();
    assert_eq!(in_chat.len(), 1, "the status change goes to the group, one card for everyone");
    assert!(in_chat[0].content.contains("In progress"));
    assert!(desk.cards_to(2).is_empty(), "the customer reads the group, not a DM");

    // A public staff comment goes to the group, an internal note to the assignee only;
    // both wait for the window the first cards opened.
    desk.app
        .post(
            &format!("/api/v1/tickets/{id}/comments"),
            &tam_token,
            json!({ "body": "We are on it", "visibility": "public" }),
        )
        .await
        .expect(201);
    desk.app
        .post(
            &format!("/api/v1/tickets/{id}/comments"),
            &tam_token,
            json!({ "body": "check the LB logs", "visibility": "internal" }),
        )
        .await
        .expect(201);
    assign(&desk, &desk.app.admin, &ticket, &second).await;
    let report = desk.dispatch().await;
    assert_eq!(report.sent, 1, "only the new assignee's window is open: {report:?}");
    let zh = desk.cards_to(3);
    assert_eq!(zh.len(), 1);
    assert!(zh[0].content.contains("处理人"), "a Chinese reader gets a Chinese card: {}", zh[0].content);

    desk.advance(minutes(10));
    desk.dispatch().await;
    let in_chat: Vec<_> = desk.cards().into_iter().filter(|m| m.receive_id == chat).collect();
    assert_eq!(in_chat.len(), 2);
    assert!(in_chat[1].content.contains("We are on it"));
    assert!(desk.cards().iter().all(|m| m.receive_id != chat || !m.content.contains("LB logs")), "notes stay internal");
    // The internal note went to whoever was the assignee when it was planned.
    let notes: Vec<_> = desk.cards().into_iter().filter(|m| m.content.contains("LB logs")).collect();
    assert_eq!(notes.len(), 1);
    assert_eq!(desk.cards_to(0).len(), 1, "the TAM wrote both comments and is not told of them");
}

/// 1,000 ticket events touching 50 people inside one minute: 50 cards in the first
/// window, the rest as one digest each when the window opens, none lost.
async fn a_burst_is_merged_into_one_digest_per_person(db: Db) {
    let desk = LarkDesk::spawn(db, 50, 10_000).await;
    let org = desk.app.org("Acme").await;
    let mut engineers = Vec::new();
    for i in 0..50 {
        engineers.push(desk.staff(i, "engineer").await);
    }
    let mut tickets = Vec::new();
    for i in 0..50 {
        tickets.push(desk.app.ticket(&desk.app.admin, &org, &format!("Ticket {i}")).await);
    }
    // The openings are planned while the tickets are unassigned: nobody is told yet.
    assert_eq!(desk.dispatch().await.planned, 0);
    // 20 rounds of 50 assignments, 3 seconds apart: each person gets one per round.
    for round in 0..20 {
        for (t, ticket) in tickets.iter().enumerate() {
            assign(&desk, &desk.app.admin, ticket, &engineers[(t + round) % 50]).await;
        }
        desk.dispatch().await;
        desk.advance(TimeDelta::seconds(3));
    }
    let first = desk.cards();
    assert_eq!(first.len(), 50, "exactly one card per person in the first window");
    for i in 0..50 {
        assert_eq!(desk.cards_to(i).len(), 1, "person {i}");
    }

    desk.advance(minutes(10));
    desk.dispatch_until_idle().await;
    assert_eq!(desk.cards().len(), 100, "one digest per person when the window opens");
    for i in 0..50 {
        let cards = desk.cards_to(i);
        assert_eq!(cards.len(), 2, "person {i}");
        assert!(cards[1].content.contains("19 updates"), "the digest carries the 19 that waited: {}", cards[1].content);
    }
    let notifications = desk.notifications().await;
    assert!(notifications.iter().all(|n| n["state"] == "sent"));
    let carried: u64 = notifications.iter().map(|n| n["items"].as_u64().unwrap()).sum();
    assert_eq!(carried, 1_000, "every event reached its person");
}

/// With a budget of 100, a workload that would need 300 calls never makes call 101;
/// the TAM hears of 50/80/95 %, emergencies still go out from the reserve, and the rest
/// waits, visible on the budget route.
async fn the_budget_is_never_exceeded(db: Db) {
    let desk = LarkDesk::spawn(db, 31, 100).await;
    let tam = desk.staff(30, "tam").await;
    let org = desk
        .app
        .post("/api/v1/orgs", &desk.app.admin, json!({ "name": "Acme", "tam_id": tam["id"] }))
        .await
        .expect(201);
    let mut engineers = Vec::new();
    for i in 0..30 {
        engineers.push(desk.staff(i, "engineer").await);
    }
    let mut tickets = Vec::new();
    for i in 0..30 {
        tickets.push(desk.app.ticket(&desk.app.admin, &org, &format!("Ticket {i}")).await);
    }
    for round in 0..10 {
        for (t, ticket) in tickets.iter().enumerate() {
            assign(&desk, &desk.app.admin, ticket, &engineers[(t + round + 1) % 30]).await;
        }
        desk.dispatch_until_idle().await;
        desk.advance(minutes(61));
    }
    let snapshot = desk.sim.snapshot();
    assert!(snapshot.calls.billed <= 100, "Lark billed {} calls", snapshot.calls.billed);
    let budget = desk.budget("default").await;
    assert_eq!(budget["budget"], 100);
    assert_eq!(budget["reserved"], 5);
    assert_eq!(budget["used"].as_u64().unwrap(), snapshot.calls.billed, "the count matches what Lark billed");
    assert_eq!(budget["level"], "emergencies_only");
    assert!(budget["queued_since"].is_string(), "queueing at the budget is shown: {budget:#}");
    assert!(budget["waiting_notifications"].as_u64().unwrap() > 0, "what did not go out is kept, not dropped");
    let tam_cards = desk.cards_to(30);
    for pct in ["50%", "80%", "95%"] {
        assert!(tam_cards.iter().any(|c| c.content.contains(pct)), "the TAM is told at {pct}");
    }

    // An emergency page still goes out, from the reserve.
    let before = desk.sim.snapshot().calls.billed;
    let body = NotificationBody {
        ticket: None,
        happening: Happening::Commented { excerpt: "EMERGENCY: orders are being lost".into(), internal: false },
        actor: "on-call".into(),
        at: desk.now(),
    };
    let request = NotificationRequest {
        org_id: org["id"].as_str().unwrap().parse::<OrgId>().unwrap(),
        recipient: Recipient::Person(person_id(&engineers[0])),
        class: NotifyClass::Emergency,
        body,
    };
    desk.app.state.store.enqueue_notification(request, desk.now()).await.unwrap();
    desk.dispatch_until_idle().await;
    assert!(desk.cards_to(0).iter().any(|c| c.content.contains("orders are being lost")), "the page went out");
    let after = desk.sim.snapshot().calls.billed;
    assert_eq!(after, before + 1);
    assert!(after <= 100, "never call 101");
}

/// 5xx answers, a timeout after Lark acted, and a rate-limit answer are retried with the
/// same uuid: every notification is delivered exactly once.
async fn faults_are_retried_and_delivered_once(db: Db) {
    let desk =
        LarkDesk::spawn_tuned(db, 4, 10_000, |s| s.lark_request_timeout = std::time::Duration::from_millis(300)).await;
    let org = desk.app.org("Acme").await;
    let mut engineers = Vec::new();
    for i in 0..4 {
        engineers.push(desk.staff(i, "engineer").await);
    }
    for (i, e) in engineers.iter().enumerate() {
        let ticket = desk.app.ticket(&desk.app.admin, &org, &format!("Ticket {i}")).await;
        assign(&desk, &desk.app.admin, &ticket, e).await;
    }
    desk.sim.inject_fault(FaultSpec::new(FaultKind::Http500, MESSAGES, 2));
    desk.sim.inject_fault(FaultSpec::new(FaultKind::RateLimit, MESSAGES, 1));
    desk.sim.inject_fault(FaultSpec {
        delay_ms: 1_000,
        apply: FaultApply::After,
        ..FaultSpec::new(FaultKind::Delay, MESSAGES, 1)
    });
    let first = desk.dispatch().await;
    assert!(first.retried >= 1, "{first:?}");
    for _ in 0..10 {
        desk.advance(minutes(10));
        desk.dispatch().await;
    }
    for i in 0..4 {
        assert_eq!(desk.cards_to(i).len(), 1, "person {i} sees their card exactly once");
    }
    let notifications = desk.notifications().await;
    assert_eq!(notifications.len(), 4);
    assert!(notifications.iter().all(|n| n["state"] == "sent"), "{notifications:#?}");
    assert!(notifications.iter().any(|n| n["attempts"].as_u64().unwrap() > 1));
}

/// The dispatcher dies between the Lark call and marking the row sent; after the lease
/// runs out the row is sent again with the same uuid and Lark shows it once.
async fn a_crash_after_the_call_does_not_show_twice(db: Db) {
    let desk = LarkDesk::spawn(db, 1, 10_000).await;
    let org = desk.app.org("Acme").await;
    let engineer = desk.staff(0, "engineer").await;
    let ticket = desk.app.ticket(&desk.app.admin, &org, "Disk full").await;
    assign(&desk, &desk.app.admin, &ticket, &engineer).await;

    desk.app.state.dispatcher.crash_after_send(true);
    assert!(desk.app.state.dispatcher.run_once().await.is_err(), "the pass died");
    assert_eq!(desk.cards_to(0).len(), 1, "Lark got the card before the crash");
    let n = &desk.notifications().await[0];
    assert_eq!(n["state"], "ready", "not marked sent");

    assert_eq!(desk.dispatch().await.sent, 0, "the lease keeps others off while it runs");
    desk.advance(TimeDelta::seconds(61));
    assert_eq!(desk.dispatch().await.sent, 1);
    let cards = desk.cards_to(0);
    assert_eq!(cards.len(), 1, "shown once");
    let n = &desk.notifications().await[0];
    assert_eq!(n["state"], "sent");
    assert_eq!(n["message_id"], cards[0].message_id.as_str());
    assert_eq!(cards[0].uuid.as_deref(), n["id"].as_str(), "the uuid is the row's id");
}

/// Lark expires the token in the middle of a burst: one refresh, every card delivered.
async fn token_expiry_mid_burst_refreshes_once(db: Db) {
    let desk = LarkDesk::spawn(db, 20, 10_000).await;
    let org = desk.app.org("Acme").await;
    let mut engineers = Vec::new();
    for i in 0..20 {
        engineers.push(desk.staff(i, "engineer").await);
    }
    let tickets: Vec<Value> = {
        let mut v = Vec::new();
        for i in 0..20 {
            v.push(desk.app.ticket(&desk.app.admin, &org, &format!("Ticket {i}")).await);
        }
        v
    };
    for i in 0..10 {
        assign(&desk, &desk.app.admin, &tickets[i], &engineers[i]).await;
    }
    assert_eq!(desk.dispatch().await.sent, 10);
    assert_eq!(desk.sim.snapshot().tokens_issued, 1);
    desk.sim.expire_tokens();
    for i in 10..20 {
        assign(&desk, &desk.app.admin, &tickets[i], &engineers[i]).await;
    }
    let report = desk.dispatch().await;
    assert_eq!(report.sent, 10, "{report:?}");
    assert_eq!(report.retried, 0, "the refresh happens inside the call, not as a failure");
    assert_eq!(desk.sim.snapshot().tokens_issued, 2, "one refresh for the whole burst");
    for i in 0..20 {
        assert_eq!(desk.cards_to(i).len(), 1, "person {i}");
    }
}

/// `DESK_LARK_MODE=off` keeps everything queued; switching the mode on sends it.
async fn mode_off_keeps_the_outbox(db: Db) {
    let desk = LarkDesk::spawn(db, 1, 10_000).await;
    desk.app.patch("/api/v1/integrations/default", &desk.app.admin, json!({ "mode": "off" })).await.expect(200);
    let org = desk.app.org("Acme").await;
    let engineer = desk.staff(0, "engineer").await;
    let ticket = desk.app.ticket(&desk.app.admin, &org, "Quiet").await;
    assign(&desk, &desk.app.admin, &ticket, &engineer).await;
    desk.dispatch().await;
    desk.advance(minutes(30));
    desk.dispatch().await;
    assert!(desk.cards().is_empty(), "nothing is sent while off");
    let status = desk.app.get("/api/v1/integrations/default/status", &desk.app.admin).await.expect(200);
    assert_eq!(status["delivering"], false);
    // The opening and the assignment, both for the assignee.
    assert_eq!(status["budget"]["waiting_notifications"], 2, "{status:#}");
    assert_eq!(desk.sim.snapshot().calls.total, 0, "status costs no Lark call");

    desk.app.patch("/api/v1/integrations/default", &desk.app.admin, json!({ "mode": "webhook" })).await.expect(200);
    desk.dispatch().await;
    assert_eq!(desk.cards_to(0).len(), 1);
}

/// A notification that cannot be delivered is parked with its reason, listed over REST,
/// and delivered when an admin retries it after fixing the cause.
async fn parked_notifications_can_be_retried(db: Db) {
    let desk = LarkDesk::spawn(db, 1, 10_000).await;
    let org = desk.app.org("Acme").await;
    let unbound = desk.app.staff("No Lark yet", "engineer").await;
    let ticket = desk.app.ticket(&desk.app.admin, &org, "Parked").await;
    assign(&desk, &desk.app.admin, &ticket, &unbound).await;
    assert_eq!(desk.dispatch().await.parked, 1);
    let parked = desk.app.walk("/api/v1/notifications?state=parked").await;
    assert_eq!(parked.len(), 1);
    assert!(parked[0]["last_error"].as_str().unwrap().contains("open_id"), "{parked:#?}");
    let id = parked[0]["id"].as_str().unwrap().to_owned();

    let engineer_token = desk.app.token_for(&unbound).await;
    desk.app
        .post(&format!("/api/v1/notifications/{id}/retry"), &engineer_token, json!({}))
        .await
        .expect_problem(403, "forbidden");

    let open_id = desk.user(0).open_id;
    desk.app
        .patch(
            &format!("/api/v1/people/{}", unbound["id"].as_str().unwrap()),
            &desk.app.admin,
            json!({ "lark_open_id": open_id }),
        )
        .await
        .expect(200);
    let retried =
        desk.app.post(&format!("/api/v1/notifications/{id}/retry"), &desk.app.admin, json!({})).await.expect(200);
    assert_eq!(retried["state"], "ready");
    assert_eq!(desk.dispatch().await.sent, 1);
    assert_eq!(desk.cards_to(0).len(), 1);
    desk.app
        .post(&format!("/api/v1/notifications/{id}/retry"), &desk.app.admin, json!({}))
        .await
        .expect_problem(409, "not_parked");
    let nil = uuid::Uuid::nil();
    desk.app
        .post(&format!("/api/v1/notifications/{nil}/retry"), &desk.app.admin, json!({}))
        .await
        .expect_problem(404, "notification_not_found");
}

/// Quiet hours hold what is not urgent until they end, then deliver it as one card.
async fn quiet_hours_hold_until_morning(db: Db) {
    let desk = LarkDesk::spawn(db, 1, 10_000).await;
    let org = desk.app.org("Acme").await;
    let engineer = desk.staff(0, "engineer").await;
    desk.app
        .patch(
            &format!("/api/v1/people/{}", engineer["id"].as_str().unwrap()),
            &desk.app.admin,
            json!({ "time_zone": "Asia/Shanghai", "quiet_hours": { "start": "22:00", "end": "07:00" } }),
        )
        .await
        .expect(200);
    // 15:00 UTC is 23:00 in Shanghai.
    desk.clock.set("2026-11-21T15:00:00Z".parse().unwrap());
    let t1 = desk.app.ticket(&desk.app.admin, &org, "Night one").await;
    let t2 = desk.app.ticket(&desk.app.admin, &org, "Night two").await;
    assign(&desk, &desk.app.admin, &t1, &engineer).await;
    assign(&desk, &desk.app.admin, &t2, &engineer).await;
    desk.dispatch().await;
    desk.advance(minutes(60));
    desk.dispatch().await;
    assert!(desk.cards().is_empty(), "held during quiet hours");
    // 23:00 UTC is 07:00 in Shanghai.
    desk.clock.set("2026-11-21T23:00:00Z".parse().unwrap());
    desk.dispatch().await;
    let cards = desk.cards_to(0);
    assert_eq!(cards.len(), 1, "one digest when quiet hours end");
    assert!(cards[0].content.contains("Night one") && cards[0].content.contains("Night two"));
}

on_both_databases!(
    each_rule_tells_the_right_people,
    a_burst_is_merged_into_one_digest_per_person,
    the_budget_is_never_exceeded,
    a_crash_after_the_call_does_not_show_twice,
    parked_notifications_can_be_retried,
);

mod sqlite_only {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn faults_are_retried_and_delivered_once() {
        super::faults_are_retried_and_delivered_once(Db::Sqlite).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn token_expiry_mid_burst_refreshes_once() {
        super::token_expiry_mid_burst_refreshes_once(Db::Sqlite).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn mode_off_keeps_the_outbox() {
        super::mode_off_keeps_the_outbox(Db::Sqlite).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn quiet_hours_hold_until_morning() {
        super::quiet_hours_hold_until_morning(Db::Sqlite).await;
    }
}

/// Two `desk` instances dispatching from one PostgreSQL database, racing in small
/// batches: every notification is delivered exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_dispatchers_on_postgres_deliver_each_notification_once() {
    use desk_store::SecretBox;
    use lark_notify::dispatch::{Dispatcher, DispatcherSettings, Lanes};

    let desk = LarkDesk::spawn(Db::Postgres, 40, 10_000).await;
    let org = desk.app.org("Acme").await;
    let mut engineers = Vec::new();
    for i in 0..40 {
        engineers.push(desk.staff(i, "engineer").await);
    }
    for (i, e) in engineers.iter().enumerate() {
        let ticket = desk.app.ticket(&desk.app.admin, &org, &format!("Ticket {i}")).await;
        assign(&desk, &desk.app.admin, &ticket, e).await;
    }
    let instance = || async {
        let store = desk_api::startup::connect(&desk.settings).await.unwrap();
        let seal = SecretBox::from_base64(desk.settings.secret_key.as_ref().unwrap()).unwrap();
        let lanes = Lanes::new(store.clone(), Some(seal), desk.clock.clone(), std::time::Duration::from_secs(10));
        let settings =
            DispatcherSettings { batch: 5, ..DispatcherSettings::new(desk.settings.notify_window, "http://desk.test") };
        Dispatcher::new(store, desk.clock.clone(), lanes, settings)
    };
    let (one, two) = (instance().await, instance().await);
    for _ in 0..20 {
        let (a, b) = tokio::join!(one.run_once(), two.run_once());
        let (a, b) = (a.unwrap(), b.unwrap());
        if a.is_idle() && b.is_idle() {
            break;
        }
    }
    assert_eq!(desk.cards().len(), 40, "each card once");
    for i in 0..40 {
        assert_eq!(desk.cards_to(i).len(), 1, "person {i}");
    }
    let notifications = desk.notifications().await;
    assert_eq!(notifications.len(), 40, "one delivery per person, not one per instance");
    assert!(notifications.iter().all(|n| n["state"] == "sent" && n["attempts"] == 1));
}

/// Two customer organisations, each with its own Lark app, on one server: each has its
/// own token, budget and ledger, and nothing of one reaches the other's Lark.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_integrations_are_isolated() {
    let acme_lark = sim_with("cli_aaaaaaaaaaaaaaaa", "ann").await;
    let globex_lark = sim_with("cli_bbbbbbbbbbbbbbbb", "bob").await;
    let app = bare_desk().await;

    let mut tickets = Vec::new();
    for (name, slug, lark, who, budget) in
        [("Acme", "acme", &acme_lark, "ann", 50), ("Globex", "globex", &globex_lark, "bob", 70)]
    {
        let user = lark.user_by_email(&format!("{who}@vendor.test")).unwrap();
        let tam = app
            .post(
                "/api/v1/people",
                &app.admin,
                json!({ "kind": "staff", "role": "tam", "name": who, "lark_open_id": user.open_id }),
            )
            .await
            .expect(201);
        let org = app.post("/api/v1/orgs", &app.admin, json!({ "name": name, "tam_id": tam["id"] })).await.expect(201);
        app.post(
            "/api/v1/integrations",
            &app.admin,
            json!({ "id": slug, "org_id": org["id"], "base_url": lark.base_url, "app_id": lark.app_id,
                    "app_secret": lark.app_secret, "mode": "webhook", "monthly_budget": budget }),
        )
        .await
        .expect(201);
        tickets.push(app.ticket(&app.admin, &org, &format!("{name} is down")).await);
    }
    let report = app.state.dispatcher.run_once().await.unwrap();
    assert_eq!(report.sent, 2, "{report:?}");

    for (lark, who, title, other) in
        [(&acme_lark, "ann", "Acme is down", "Globex"), (&globex_lark, "bob", "Globex is down", "Acme")]
    {
        let snapshot = lark.snapshot();
        assert_eq!(snapshot.messages.len(), 1, "one card through {who}'s org app");
        let open_id = lark.user_by_email(&format!("{who}@vendor.test")).unwrap().open_id;
        assert_eq!(snapshot.messages[0].receive_id, open_id);
        assert!(snapshot.messages[0].content.contains(title));
        assert!(!snapshot.messages[0].content.contains(other), "nothing of the other org");
        assert_eq!(snapshot.tokens_issued, 1, "each app fetches its own token");
    }
    let acme = app.get("/api/v1/integrations/acme/budget", &app.admin).await.expect(200);
    let globex = app.get("/api/v1/integrations/globex/budget", &app.admin).await.expect(200);
    assert_eq!((acme["budget"].as_u64(), acme["used"].as_u64()), (Some(50), Some(1)));
    assert_eq!((globex["budget"].as_u64(), globex["used"].as_u64()), (Some(70), Some(1)));
    assert_eq!(acme["ledger_billed"], 1);
    assert_eq!(acme["ledger_calls"], 2, "the token fetch is in the ledger, unbilled");
}

/// Notifications planned before the organisation has a Lark app wait, and go out once
/// its integration is registered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notifications_wait_for_an_integration() {
    let lark = sim_with(&lark_sim::SimConfig::default().app_id, "ann").await;
    let app = bare_desk().await;
    let open_id = lark.user_by_email("ann@vendor.test").unwrap().open_id;
    let tam = app
        .post(
            "/api/v1/people",
            &app.admin,
            json!({ "kind": "staff", "role": "tam", "name": "Ann", "lark_open_id": open_id }),
        )
        .await
        .expect(201);
    let org = app.post("/api/v1/orgs", &app.admin, json!({ "name": "Acme", "tam_id": tam["id"] })).await.expect(201);
    app.ticket(&app.admin, &org, "Before the app").await;
    let report = app.state.dispatcher.run_once().await.unwrap();
    assert_eq!((report.planned, report.sent), (1, 0), "planned, with nowhere to go yet");

    app.post(
        "/api/v1/integrations",
        &app.admin,
        json!({ "id": "acme", "org_id": org["id"], "base_url": lark.base_url, "app_id": lark.app_id,
                "app_secret": lark.app_secret, "mode": "webhook" }),
    )
    .await
    .expect(201);
    assert_eq!(app.state.dispatcher.run_once().await.unwrap().sent, 1);
    let messages = lark.snapshot().messages;
    assert_eq!(messages.len(), 1);
    assert!(messages[0].content.contains("Before the app"));
}
