//! Escalations, emergencies and acknowledgements over HTTP, on both databases, with time
//! from a manual clock; and who is told, through the real dispatcher and lark-sim.

use std::sync::Arc;

use chrono::TimeDelta;
use desk_core::{Actor, ActorKind, DomainError, NewEmergency, NewEscalation, PersonId, TicketId};
use desk_store::{ManualClock, StoreError};
use serde_json::{Value, json};

use crate::on_both_databases;
use crate::support::lark::{LarkDesk, START};
use crate::support::{Db, TestApp, settings_for};

on_both_databases!(
    escalating_climbs_to_the_top_then_refuses,
    a_repeat_within_ten_minutes_is_merged,
    finished_tickets_refuse_and_a_resolved_one_reopens_for_an_emergency,
    an_emergency_sets_p1_and_shows_on_the_ticket_and_timeline,
    staff_acknowledge_once,
    customers_act_only_on_their_own_organisation,
    the_right_people_are_told,
);

struct Desk {
    app: TestApp,
    clock: Arc<ManualClock>,
}

impl Desk {
    async fn spawn(db: Db) -> Self {
        let clock = Arc::new(ManualClock::new(START.parse().unwrap()));
        // Boxed: the server's start-up future is larger than clippy's `large_futures` allows
        // to be held inline.
        let app = Box::pin(TestApp::spawn_manual(settings_for(db), clock.clone())).await;
        Self { app, clock }
    }

    fn minutes(&self, m: i64) {
        self.clock.advance(TimeDelta::minutes(m));
    }
}

fn id(v: &Value) -> &str {
    v["id"].as_str().unwrap()
}

async fn escalate(app: &TestApp, token: &str, ticket: &Value, reason: &str) -> crate::support::Reply {
    app.post(&format!("/api/v1/tickets/{}/escalate", id(ticket)), token, json!({ "reason": reason })).await
}

async fn declare(app: &TestApp, token: &str, ticket: &Value, kind: &str, text: &str) -> crate::support::Reply {
    app.post(&format!("/api/v1/tickets/{}/emergency", id(ticket)), token, json!({ "kind": kind, "text": text })).await
}

async fn acknowledge(app: &TestApp, token: &str, ticket: &Value) -> crate::support::Reply {
    app.post(&format!("/api/v1/tickets/{}/acknowledge", id(ticket)), token, json!({})).await
}

async fn move_to(app: &TestApp, ticket: &Value, to: &str) {
    app.post(&format!("/api/v1/tickets/{}/transition", id(ticket)), &app.admin, json!({ "to": to })).await.expect(200);
}

async fn timeline(app: &TestApp, ticket: &Value) -> Vec<Value> {
    app.walk(&format!("/api/v1/tickets/{}/timeline", id(ticket))).await
}

async fn escalating_climbs_to_the_top_then_refuses(db: Db) {
    let Desk { app, clock } = Desk::spawn(db).await;
    let org = app.org("Acme").await;
    let ticket = app.ticket(&app.admin, &org, "Line 3 gateway drops data").await;
    assert_eq!(ticket["escalation"], json!({ "level": 0, "name": "engineer", "escalated_at": null }));

    let first = escalate(&app, &app.admin, &ticket, "customer line stopped").await.expect(200);
    assert_eq!(first["merged"], false);
    assert_eq!(first["escalation"]["level"], 1);
    assert_eq!(first["escalation"]["name"], "senior_engineer");
    assert_eq!(first["escalation"]["escalated_at"], "2026-11-21T09:00:00Z");
    assert_eq!(first["id"], ticket["id"], "the answer is the ticket");

    clock.advance(TimeDelta::minutes(11));
    let second = escalate(&app, &app.admin, &ticket, "still down after the patch").await.expect(200);
    assert_eq!((second["escalation"]["level"].as_i64(), second["merged"].as_bool()), (Some(2), Some(false)));
    assert_eq!(second["escalation"]["name"], "tam_lead");

    clock.advance(TimeDelta::minutes(11));
    let problem = escalate(&app, &app.admin, &ticket, "more!").await.expect_problem(409, "escalation_top_level");
    assert!(problem["detail"].as_str().unwrap().contains("tam_lead"), "{problem:#}");
    let after = app.get(&format!("/api/v1/tickets/{}", id(&ticket)), &app.admin).await.expect(200);
    assert_eq!(after["escalation"]["level"], 2);

    let entries = timeline(&app, &ticket).await;
    let escalations: Vec<&Value> = entries.iter().filter(|e| e["kind"] == "escalated").collect();
    assert_eq!(escalations.len(), 2, "the refusal wrote nothing");
    assert_eq!(
        escalations[0]["data"],
        json!({ "from": 0, "to": 1, "level_name": "senior_engineer", "reason": "customer line stopped", "merged": false })
    );
    assert_eq!(escalations[1]["data"]["to"], 2);
    assert_eq!(escalations[1]["actor"]["name"], "token:test-admin");

    // Bad input names the field and changes nothing.
    for body in [json!({}), json!({ "reason": "   " }), json!({ "reason": "two\nlines" }), json!({ "reason": 3 })] {
        let reply = app.post(&format!("/api/v1/tickets/{}/escalate", id(&ticket)), &app.admin, body.clone()).await;
        assert_eq!(reply.status.as_u16(), 422, "{body}: {:#}", reply.body);
        assert_eq!(reply.body["errors"][0]["field"], "reason", "{body}: {:#}", reply.body);
    }
    let nil = uuid::Uuid::nil();
    app.post(&format!("/api/v1/tickets/{nil}/escalate"), &app.admin, json!({ "reason": "x" }))
        .await
        .expect_problem(404, "ticket_not_found");
    assert_eq!(timeline(&app, &ticket).await.len(), entries.len());
}

async fn a_repeat_within_ten_minutes_is_merged(db: Db) {
    let desk = Desk::spawn(db).await;
    let app = &desk.app;
    let org = app.org("Acme").await;
    let ticket = app.ticket(&app.admin, &org, "VPN flaps").await;

    escalate(app, &app.admin, &ticket, "third outage today").await.expect(200);
    desk.minutes(9);
    let repeat = escalate(app, &app.admin, &ticket, "CEO is asking").await.expect(200);
    assert_eq!(repeat["merged"], true);
    assert_eq!(repeat["escalation"]["level"], 1, "merged, not stacked");
    assert_eq!(repeat["escalation"]["escalated_at"], "2026-11-21T09:00:00Z", "the window runs from the raise");

    // A minute later the window of the raise has passed: the next request raises again.
    desk.minutes(1);
    let next = escalate(app, &app.admin, &ticket, "no answer yet").await.expect(200);
    assert_eq!((next["escalation"]["level"].as_i64(), next["merged"].as_bool()), (Some(2), Some(false)));

    let escalations: Vec<Value> =
        timeline(app, &ticket).await.into_iter().filter(|e| e["kind"] == "escalated").collect();
    let data: Vec<(i64, i64, bool, &str)> = escalations
        .iter()
        .map(|e| {
            let d = &e["data"];
            (
                d["from"].as_i64().unwrap(),
                d["to"].as_i64().unwrap(),
                d["merged"].as_bool().unwrap(),
                d["reason"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        data,
        [(0, 1, false, "third outage today"), (1, 1, true, "CEO is asking"), (1, 2, false, "no answer yet")],
        "the merged reason is on the timeline"
    );
}

async fn finished_tickets_refuse_and_a_resolved_one_reopens_for_an_emergency(db: Db) {
    let Desk { app, .. } = Desk::spawn(db).await;
    let org = app.org("Acme").await;
    let ticket = app.ticket(&app.admin, &org, "Reports fail").await;
    move_to(&app, &ticket, "in_progress").await;
    move_to(&app, &ticket, "resolved").await;

    let problem = escalate(&app, &app.admin, &ticket, "it broke again").await.expect_problem(409, "ticket_closed");
    assert!(problem["detail"].as_str().unwrap().contains("resolved"), "{problem:#}");

    // An emergency on a resolved ticket means the problem is back: it reopens.
    let declared = declare(&app, &app.admin, &ticket, "service_unavailable", "reports down again").await.expect(200);
    assert_eq!((declared["status"].as_str(), declared["severity"].as_str()), (Some("open"), Some("P1")));
    assert!(declared["resolved_at"].is_null());
    let kinds: Vec<String> =
        timeline(&app, &ticket).await.iter().map(|e| e["kind"].as_str().unwrap().to_owned()).collect();
    assert_eq!(kinds[kinds.len() - 3..], ["emergency_declared", "severity_changed", "status_changed"]);
    let last = timeline(&app, &ticket).await.pop().unwrap();
    assert_eq!(last["data"], json!({ "from": "resolved", "to": "open", "reason": null }));

    // Closed is closed: neither escalation nor emergency until someone reopens it.
    let other = app.ticket(&app.admin, &org, "Old issue").await;
    for to in ["in_progress", "resolved", "closed"] {
        move_to(&app, &other, to).await;
    }
    let before = timeline(&app, &other).await.len();
    escalate(&app, &app.admin, &other, "x").await.expect_problem(409, "ticket_closed");
    declare(&app, &app.admin, &other, "data_loss", "x").await.expect_problem(409, "ticket_closed");
    let after = app.get(&format!("/api/v1/tickets/{}", id(&other)), &app.admin).await.expect(200);
    assert_eq!((after["status"].as_str(), after["emergency"].is_null()), (Some("closed"), true));
    assert_eq!(timeline(&app, &other).await.len(), before);
}

async fn an_emergency_sets_p1_and_shows_on_the_ticket_and_timeline(db: Db) {
    let Desk { app, .. } = Desk::spawn(db).await;
    let org = app.org("Acme").await;
    let customer = app.customer(&org, "Chen Jing").await;
    let tam = app.staff("Li Na", "tam").await;
    let tam_token = app.token_for(&tam).await;
    let ticket = app
        .post(
            "/api/v1/tickets",
            &app.admin,
            json!({ "org_id": org["id"], "title": "Orders missing", "severity": "P3", "requester_id": customer["id"] }),
        )
        .await
        .expect(201);
    assert!(ticket["emergency"].is_null());

    // Bad input names each field and changes nothing.
    let bad = declare(&app, &tam_token, &ticket, "fire", " ").await.expect_problem(422, "validation_failed");
    let fields: Vec<&str> = bad["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
    assert_eq!(fields, ["kind", "text"]);
    app.post(&format!("/api/v1/tickets/{}/emergency", id(&ticket)), &tam_token, json!({ "kind": "data_loss" }))
        .await
        .expect_problem(422, "invalid_body");

    let declared = declare(&app, &tam_token, &ticket, "data_loss", "Orders since 09:00 are gone\nfrom the ledger")
        .await
        .expect(200);
    assert_eq!(declared["already"], false);
    assert_eq!(declared["severity"], "P1");
    assert_eq!(declared["status"], "open", "the status stays");
    let emergency = &declared["emergency"];
    assert_eq!(emergency["kind"], "data_loss");
    assert_eq!(emergency["text"], "Orders since 09:00 are gone\nfrom the ledger");
    assert_eq!(emergency["declared_at"], "2026-11-21T09:00:00Z");
    assert_eq!(emergency["declared_by"], json!({ "person_id": tam["id"], "name": "Li Na" }));
    assert!(emergency["acknowledged_by"].is_null() && emergency["acknowledged_at"].is_null());

    let read = app.get(&format!("/api/v1/tickets/{}", id(&ticket)), &app.admin).await.expect(200);
    assert_eq!(read["emergency"], declared["emergency"]);
    let listed = app.walk("/api/v1/tickets?emergency=true").await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["id"], ticket["id"]);

    let entries = timeline(&app, &ticket).await;
    let kinds: Vec<&str> = entries.iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["created", "emergency_declared", "severity_changed"]);
    assert_eq!(
        entries[1]["data"],
        json!({ "kind": "data_loss", "text": "Orders since 09:00 are gone\nfrom the ledger" })
    );
    assert_eq!(entries[1]["actor"]["name"], "Li Na");
    assert_eq!(entries[2]["data"], json!({ "from": "P3", "to": "P1" }));

    // Declaring again changes nothing and says so.
    let again = declare(&app, &app.admin, &ticket, "service_unavailable", "also down").await.expect(200);
    assert_eq!(again["already"], true);
    assert_eq!(again["emergency"], declared["emergency"], "the first declaration stands");
    assert_eq!(timeline(&app, &ticket).await.len(), entries.len());

    // A ticket that is P1 already gets no severity entry.
    let p1 = app
        .post("/api/v1/tickets", &app.admin, json!({ "org_id": org["id"], "title": "Down", "severity": "P1" }))
        .await
        .expect(201);
    declare(&app, &app.admin, &p1, "data_corruption", "ledger totals wrong").await.expect(200);
    let kinds: Vec<String> = timeline(&app, &p1).await.iter().map(|e| e["kind"].as_str().unwrap().to_owned()).collect();
    assert_eq!(kinds, ["created", "emergency_declared"]);
}

async fn staff_acknowledge_once(db: Db) {
    let desk = Desk::spawn(db).await;
    let app = &desk.app;
    let org = app.org("Acme").await;
    let engineer = app.staff("Zhang Wei", "engineer").await;
    let tam = app.staff("Li Na", "tam").await;
    let (eng_token, tam_token) = (app.token_for(&engineer).await, app.token_for(&tam).await);
    let ticket = app.ticket(&app.admin, &org, "Payments down").await;

    let problem = acknowledge(app, &eng_token, &ticket).await.expect_problem(409, "no_emergency");
    assert!(problem["detail"].as_str().unwrap().contains("not in emergency"));

    declare(app, &app.admin, &ticket, "service_unavailable", "payments time out").await.expect(200);
    desk.minutes(3);
    let acked = acknowledge(app, &eng_token, &ticket).await.expect(200);
    assert_eq!(acked["already"], false);
    assert_eq!(acked["emergency"]["acknowledged_by"], json!({ "person_id": engineer["id"], "name": "Zhang Wei" }));
    assert_eq!(acked["emergency"]["acknowledged_at"], "2026-11-21T09:03:00Z");

    // A second acknowledgement changes nothing and says who was first.
    desk.minutes(1);
    let again = acknowledge(app, &tam_token, &ticket).await.expect(200);
    assert_eq!(again["already"], true);
    assert_eq!(again["emergency"]["acknowledged_by"]["name"], "Zhang Wei");
    assert_eq!(again["emergency"]["acknowledged_at"], "2026-11-21T09:03:00Z");
    let acks: Vec<Value> =
        timeline(app, &ticket).await.into_iter().filter(|e| e["kind"] == "emergency_acknowledged").collect();
    assert_eq!(acks.len(), 1);
    assert_eq!(acks[0]["actor"]["name"], "Zhang Wei");
    assert_eq!(acks[0]["data"], json!({}));

    // An automation token acknowledges as itself.
    let other = app.ticket(&app.admin, &org, "Sync stuck").await;
    declare(app, &app.admin, &other, "data_corruption", "duplicates").await.expect(200);
    let by_token = acknowledge(app, &app.admin, &other).await.expect(200);
    assert_eq!(by_token["emergency"]["acknowledged_by"], json!({ "person_id": null, "name": "token:test-admin" }));
}

/// The store's permission check, as the Lark entry points meet it: customers act through
/// Lark, not REST, so this drives the store directly.
async fn customers_act_only_on_their_own_organisation(db: Db) {
    let Desk { app, clock } = Desk::spawn(db).await;
    let store = &app.state.store;
    let acme = app.org("Acme").await;
    let globex = app.org("Globex").await;
    let chen = app.customer(&acme, "Chen Jing").await;
    let ours = app.ticket(&app.admin, &acme, "Ours").await;
    let theirs = app.ticket(&app.admin, &globex, "Theirs").await;
    let ticket_id = |t: &Value| id(t).parse::<TicketId>().unwrap();
    let person: PersonId = id(&chen).parse().unwrap();
    let now = || desk_store::Clock::now(&*clock);
    // The actor claims to be staff; the stored person says customer, and that is what counts.
    let actor = Actor { kind: ActorKind::Staff, person_id: Some(person), name: "Chen Jing".into() };
    let reason = || NewEscalation::parse("waiting since Monday").unwrap();
    let emergency = || NewEmergency::parse("data_loss", "orders gone").unwrap();

    let done = store.escalate_ticket(ticket_id(&ours), reason(), &actor, now()).await.unwrap();
    assert_eq!((done.ticket.escalation_level, done.merged), (1, false));
    let declared = store.declare_emergency(ticket_id(&ours), emergency(), &actor, now()).await.unwrap();
    assert_eq!(declared.ticket.emergency.unwrap().declared_by, Some(person));

    let refused = |r: Result<(), StoreError>| {
        let e = r.expect_err("expected a refusal");
        assert!(matches!(e, StoreError::Domain(DomainError::NotPermitted { .. })), "{e:?}");
        e.to_string()
    };
    let other_org = refused(store.escalate_ticket(ticket_id(&theirs), reason(), &actor, now()).await.map(|_| ()));
    assert!(other_org.contains("another organisation"), "{other_org}");
    let other_org = refused(store.declare_emergency(ticket_id(&theirs), emergency(), &actor, now()).await.map(|_| ()));
    assert!(other_org.contains("another organisation"), "{other_org}");
    let ack = refused(store.acknowledge_emergency(ticket_id(&ours), &actor, now()).await.map(|_| ()));
    assert!(ack.contains("only staff"), "{ack}");
    let theirs_now = app.get(&format!("/api/v1/tickets/{}", id(&theirs)), &app.admin).await.expect(200);
    assert_eq!((theirs_now["escalation"]["level"].as_i64(), theirs_now["emergency"].is_null()), (Some(0), true));

    // A deactivated customer may do nothing.
    app.patch(&format!("/api/v1/people/{}", id(&chen)), &app.admin, json!({ "active": false })).await.expect(200);
    clock.advance(TimeDelta::minutes(30));
    refused(store.escalate_ticket(ticket_id(&ours), reason(), &actor, now()).await.map(|_| ()));
}

/// Escalated → the assignee and the TAM; emergency → the assignee, the TAM and the group
/// at once (emergencies skip the window); acknowledged → the group. Merged repeats tell
/// nobody.
async fn the_right_people_are_told(db: Db) {
    let desk = Box::pin(LarkDesk::spawn(db, 4, 10_000)).await;
    let tam = desk.staff(0, "tam").await;
    let engineer = desk.staff(1, "engineer").await;
    let chat = desk.chat("Acme support", &[0, 2]).await;
    let org = desk
        .app
        .post("/api/v1/orgs", &desk.app.admin, json!({ "name": "Acme", "tam_id": tam["id"], "main_chat_id": chat }))
        .await
        .expect(201);
    let customer = desk.customer(&org, 2).await;
    let engineer_token = desk.app.token_for(&engineer).await;
    let ticket = desk
        .app
        .post(
            "/api/v1/tickets",
            &desk.app.admin,
            json!({ "org_id": org["id"], "title": "Gateway drops data", "requester_id": customer["id"],
                    "assignee_id": engineer["id"] }),
        )
        .await
        .expect(201);
    assert_eq!(desk.dispatch().await.sent, 2, "the opening: assignee and TAM");
    desk.advance(TimeDelta::minutes(10));

    escalate(&desk.app, &desk.app.admin, &ticket, "line 3 stopped").await.expect(200);
    escalate(&desk.app, &desk.app.admin, &ticket, "and line 4").await.expect(200);
    let report = desk.dispatch().await;
    assert_eq!((report.planned, report.sent), (2, 2), "one card each for the assignee and the TAM: {report:?}");
    for person in [0, 1] {
        let cards = desk.cards_to(person);
        assert_eq!(cards.len(), 2, "person {person}");
        assert!(
            cards[1].content.contains("escalated it to senior engineer: line 3 stopped"),
            "person {person}: {}",
            cards[1].content
        );
        assert!(!cards[1].content.contains("line 4"), "the merged repeat is on the timeline, not on cards");
    }
    assert!(desk.cards().iter().all(|m| m.receive_id != chat), "the group is not told of escalations");

    // An emergency is paged at once, though everyone's window is closed.
    declare(&desk.app, &desk.app.admin, &ticket, "data_loss", "readings since 09:00 are gone").await.expect(200);
    let report = desk.dispatch().await;
    assert_eq!(report.sent, 3, "assignee, TAM and the group: {report:?}");
    for person in [0, 1] {
        let last = desk.cards_to(person).pop().unwrap();
        assert!(
            last.content.contains("declared an emergency (data loss): readings since 09:00 are gone"),
            "{}",
            last.content
        );
    }
    let in_chat: Vec<_> = desk.cards().into_iter().filter(|m| m.receive_id == chat).collect();
    assert_eq!(in_chat.len(), 1);
    assert!(in_chat[0].content.contains("declared an emergency"), "{}", in_chat[0].content);
    let emergencies: Vec<Value> =
        desk.notifications().await.into_iter().filter(|n| n["class"] == "emergency").collect();
    assert_eq!(emergencies.len(), 3);
    assert!(desk.notifications().await.iter().filter(|n| n["class"] == "action").count() >= 2);

    // The acknowledgement goes to the group when its window opens.
    acknowledge(&desk.app, &engineer_token, &ticket).await.expect(200);
    desk.dispatch().await;
    desk.advance(TimeDelta::minutes(10));
    desk.dispatch().await;
    let in_chat: Vec<_> = desk.cards().into_iter().filter(|m| m.receive_id == chat).collect();
    assert_eq!(in_chat.len(), 2, "{in_chat:#?}");
    let engineer_name = desk.user(1).name;
    assert!(
        in_chat[1].content.contains(&format!("{engineer_name} acknowledged the emergency")),
        "{}",
        in_chat[1].content
    );
    assert_eq!(desk.cards_to(1).len(), 3, "the engineer is not told of their own acknowledgement");
    assert!(desk.cards_to(2).is_empty(), "the customer reads the group");
}
