//! Emergency paging end to end: the real server, the escalation worker and the
//! dispatcher driven by the test, lark-sim over HTTP, time from a manual clock.

use chrono::TimeDelta;
use serde_json::{Value, json};

use crate::on_both_databases;
use crate::support::Db;
use crate::support::lark::LarkDesk;

on_both_databases!(
    an_unacknowledged_emergency_pages_climbs_and_stops_at_acknowledgement,
    an_acknowledged_emergency_gone_quiet_pages_again,
    the_emergency_card_shows_in_the_ticket_group_and_the_main_group,
);

fn minutes(m: i64) -> TimeDelta {
    TimeDelta::minutes(m)
}

fn id(v: &Value) -> &str {
    v["id"].as_str().unwrap()
}

/// `PUT` with the admin token.
pub async fn put(app: &crate::support::TestApp, path: &str, body: Value) -> crate::support::Reply {
    app.put(path, &app.admin, body).await
}

/// Runs the escalation worker until nothing is due.
pub async fn fire(desk: &LarkDesk) -> escalation::TimerReport {
    let mut total = escalation::TimerReport::default();
    loop {
        let r = desk_api::workers::run_escalation_once(&desk.app.state).await.expect("escalation pass");
        if r.is_idle() {
            return total;
        }
        total.claimed += r.claimed;
        total.warnings.extend(r.warnings);
        total.breaches.extend(r.breaches);
        total.pages.extend(r.pages);
    }
}

/// The people and groups of an emergency: a TAM (0), an on-call engineer (1), a lead
/// (2), a customer (3) in the main group; Acme's calendar in Shanghai; an on-call
/// schedule of one; the chain: whoever is on call, then the lead.
pub struct Crew {
    pub org: Value,
    pub engineer: Value,
    pub lead: Value,
    pub main_chat: String,
}

pub async fn crew(desk: &LarkDesk) -> Crew {
    let app = &desk.app;
    let tam = desk.staff(0, "tam").await;
    let engineer = desk.staff(1, "engineer").await;
    let lead = desk.staff(2, "engineer").await;
    let main_chat = desk.chat("Acme support", &[0, 3]).await;
    let org = app
        .post(
            "/api/v1/orgs",
            &app.admin,
            json!({ "name": "Acme", "support_plan": "premium", "tam_id": tam["id"], "main_chat_id": main_chat }),
        )
        .await
        .expect(201);
    desk.customer(&org, 3).await;
    let week: Value = ["mon", "tue", "wed", "thu", "fri"]
        .iter()
        .map(|d| ((*d).to_owned(), json!([{ "start": "09:00", "end": "18:00" }])))
        .collect::<serde_json::Map<_, _>>()
        .into();
    let calendar = app
        .post(
            "/api/v1/calendars",
            &app.admin,
            json!({ "name": "Shanghai office", "time_zone": "Asia/Shanghai", "hours": week }),
        )
        .await
        .expect(201);
    let schedule = app
        .post(
            "/api/v1/oncall/schedules",
            &app.admin,
            json!({ "name": "Primary", "rotations": [{ "people": [engineer["id"]], "shift": "7d", "handoff": "09:00",
                    "start_date": "2026-11-16", "time_zone": "Asia/Shanghai" }] }),
        )
        .await
        .expect(201);
    put(
        app,
        &format!("/api/v1/orgs/{}/escalation-policy", id(&org)),
        json!({ "calendar_id": calendar["id"],
                "paging": { "chain": [{ "schedule_id": schedule["id"] }, { "person_id": lead["id"] }] } }),
    )
    .await
    .expect(200);
    Crew { org, engineer, lead, main_chat }
}

/// Paged entries on the timeline: (minutes after `t0`, step, page, who).
async fn pages(desk: &LarkDesk, ticket: &Value, t0: chrono::DateTime<chrono::Utc>) -> Vec<(i64, u64, u64, String)> {
    desk.app
        .walk(&format!("/api/v1/tickets/{}/timeline", id(ticket)))
        .await
        .into_iter()
        .filter(|e| e["kind"] == "paged")
        .map(|e| {
            let at: chrono::DateTime<chrono::Utc> = e["at"].as_str().unwrap().parse().unwrap();
            (
                (at - t0).num_minutes(),
                e["data"]["step"].as_u64().unwrap(),
                e["data"]["page"].as_u64().unwrap(),
                e["data"]["to"][0].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// Nobody acknowledges: pages at 0, the interval and twice the interval to whoever is on
/// call, then the next step of the chain; never faster than the interval; every page a
/// card that skips the notification window and counts against the budget. Then an
/// acknowledgement stops everything at once, including a page queued a moment before, and
/// the customer's emergency card says who took it on and when the next update is due.
async fn an_unacknowledged_emergency_pages_climbs_and_stops_at_acknowledgement(db: Db) {
    let desk = Box::pin(LarkDesk::spawn(db, 4, 10_000)).await;
    let crew = crew(&desk).await;
    let app = &desk.app;
    let ticket = app.ticket(&app.admin, &crew.org, "Payments down").await;
    let t0 = desk.now();
    app.post(
        &format!("/api/v1/tickets/{}/emergency", id(&ticket)),
        &app.admin,
        json!({ "kind": "service_unavailable", "text": "checkout returns 500" }),
    )
    .await
    .expect(200);
    desk.dispatch_until_idle().await;
    let (engineer, lead) = (desk.user(1).name, desk.user(2).name);
    assert!(desk.cards_to(1).is_empty(), "nobody is paged before the worker runs");

    // Pages at 0, 5 and 10 minutes to the on-call engineer.
    for (n, at) in [(1, 0), (2, 5), (3, 10)] {
        let report = fire(&desk).await;
        assert_eq!(report.pages.len(), 1, "page {n} at {at} min: {report:?}");
        desk.dispatch_until_idle().await;
        let cards = desk.cards_to(1);
        assert_eq!(cards.len(), n, "each page is a card at once, whatever the window");
        let card = &cards[n - 1].content;
        assert!(card.contains(&format!("Page {n} (step 1)")) && card.contains("checkout returns 500"), "{card}");
        assert!(card.contains("\"acknowledge\""), "the page carries the Acknowledge button: {card}");
        // Never faster than the interval.
        desk.advance(minutes(4));
        assert!(fire(&desk).await.pages.is_empty(), "four minutes after page {n}");
        desk.advance(minutes(1));
    }
    // 15 minutes: the chain climbs to the lead.
    assert_eq!(fire(&desk).await.pages, [(desk_core::escalation::paging::PageReason::Unacknowledged, 2)]);
    desk.dispatch_until_idle().await;
    assert_eq!(desk.cards_to(2).len(), 1);
    assert!(desk.cards_to(2)[0].content.contains("Page 1 (step 2)"), "{}", desk.cards_to(2)[0].content);
    assert_eq!(desk.cards_to(1).len(), 3, "the engineer is not paged at step 2");

    // 20 minutes: a page is queued; the lead acknowledges before it goes out.
    desk.advance(minutes(5));
    assert_eq!(fire(&desk).await.pages.len(), 1);
    let lead_token = app.token_for(&crew.lead).await;
    desk.advance(TimeDelta::seconds(30));
    app.post(&format!("/api/v1/tickets/{}/acknowledge", id(&ticket)), &lead_token, json!({})).await.expect(200);
    desk.dispatch_until_idle().await;
    assert_eq!(desk.cards_to(2).len(), 1, "the queued page was dropped: the acknowledgement stops pages at once");
    for _ in 0..6 {
        desk.advance(minutes(5));
        assert!(fire(&desk).await.pages.is_empty(), "no page after the acknowledgement");
        desk.dispatch_until_idle().await;
    }
    assert_eq!((desk.cards_to(1).len(), desk.cards_to(2).len()), (3, 1));

    assert_eq!(
        pages(&desk, &ticket, t0).await,
        [
            (0, 1, 1, engineer.clone()),
            (5, 1, 2, engineer.clone()),
            (10, 1, 3, engineer),
            (15, 2, 1, lead.clone()),
            (20, 2, 2, lead.clone())
        ]
    );
    let timeline = app.walk(&format!("/api/v1/tickets/{}/timeline", id(&ticket))).await;
    let ack = timeline.iter().find(|e| e["kind"] == "emergency_acknowledged").unwrap();
    assert_eq!(ack["actor"]["name"], lead.as_str());
    assert!(timeline.iter().filter(|e| e["kind"] == "paged").all(|e| e["actor"]["kind"] == "system"));

    // The customer's emergency card: who took it on, and the next update by 18:20 in
    // Shanghai (acknowledged at 09:20:30 UTC; Premium P1 updates hourly, around the clock).
    let in_main: Vec<String> =
        desk.cards().into_iter().filter(|m| m.receive_id == crew.main_chat).map(|m| m.content).collect();
    assert!(in_main[0].contains("Emergency declared") && in_main[0].contains("\"acknowledge\""), "{}", in_main[0]);
    let last = in_main.last().unwrap();
    assert!(last.contains("Acknowledged by") && last.contains(&lead), "{last}");
    assert!(last.contains("18:20 Asia/Shanghai"), "next update on the customer's clock: {last}");
    assert!(!last.contains("\"acknowledge\""), "no button once acknowledged: {last}");

    let view = app.get(&format!("/api/v1/tickets/{}/escalation", id(&ticket)), &app.admin).await.expect(200);
    assert_eq!(view["paging"]["state"], "stopped");
    assert_eq!(view["paging"]["pages"], 5);
    assert_eq!(view["next_update_by"], "2026-11-21T10:20:30Z");
    let first = view["targets"].as_array().unwrap().iter().find(|t| t["target"] == "first_response").unwrap();
    assert_eq!((first["state"].as_str(), first["met_at"].as_str()), (Some("met"), Some("2026-11-21T09:20:30Z")));

    // Pages count against the budget, from the emergency reserve when it comes to that.
    let budget = desk.budget("default").await;
    let sent = desk.cards().len() as u64;
    assert_eq!(budget["used"].as_u64(), Some(sent), "{budget:#}");
    assert!(budget["emergency_used"].as_u64().unwrap() >= 4, "{budget:#}");
    let metrics = app.client.get(format!("{}/metrics", app.base)).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("desk_emergency_pages_total{reason=\"unacknowledged\",step=\"1\"} 3"), "{metrics}");
}

/// An acknowledged emergency with no update within its cadence pages again, the one who
/// took it on first; a public update stops it.
async fn an_acknowledged_emergency_gone_quiet_pages_again(db: Db) {
    let desk = Box::pin(LarkDesk::spawn(db, 4, 10_000)).await;
    let crew = crew(&desk).await;
    let app = &desk.app;
    let ticket = app.ticket(&app.admin, &crew.org, "Ledger totals wrong").await;
    app.post(
        &format!("/api/v1/tickets/{}/emergency", id(&ticket)),
        &app.admin,
        json!({ "kind": "data_corruption", "text": "totals doubled since 08:00" }),
    )
    .await
    .expect(200);
    fire(&desk).await;
    let engineer_token = app.token_for(&crew.engineer).await;
    desk.advance(minutes(2));
    app.post(&format!("/api/v1/tickets/{}/acknowledge", id(&ticket)), &engineer_token, json!({})).await.expect(200);
    desk.dispatch_until_idle().await;
    let before = desk.cards_to(1).len();

    // The cadence is an hour; 59 minutes of silence are fine.
    desk.advance(minutes(59));
    let report = fire(&desk).await;
    assert!(report.pages.is_empty() && report.breaches.is_empty(), "{report:?}");
    assert_eq!(report.warnings.len(), 1, "a warning before the update is missed: {report:?}");
    desk.advance(minutes(1));
    let report = fire(&desk).await;
    assert_eq!(report.breaches.len(), 1, "{report:?}");
    assert_eq!(report.pages, [(desk_core::escalation::paging::PageReason::NoUpdate, 1)], "paged again at once");
    desk.dispatch_until_idle().await;
    let quiet: Vec<String> = desk.cards_to(1).into_iter().skip(before).map(|m| m.content).collect();
    assert!(
        quiet.iter().any(|c| c.contains("Page 1 (step 1)") && c.contains("no update in time")),
        "the acknowledger is paged: {quiet:#?}"
    );

    // A public update stops the paging.
    app.post(
        &format!("/api/v1/tickets/{}/comments", id(&ticket)),
        &engineer_token,
        json!({ "body": "Rolled back the 08:00 deploy; recounting now" }),
    )
    .await
    .expect(201);
    for _ in 0..4 {
        desk.advance(minutes(5));
        assert!(fire(&desk).await.pages.is_empty());
    }
    let view = app.get(&format!("/api/v1/tickets/{}/escalation", id(&ticket)), &app.admin).await.expect(200);
    assert_eq!(
        (view["paging"]["state"].as_str(), view["paging"]["reason"].as_str()),
        (Some("stopped"), Some("no_update"))
    );
    let timeline = app.walk(&format!("/api/v1/tickets/{}/timeline", id(&ticket))).await;
    let breach = timeline.iter().find(|e| e["kind"] == "response_breached").unwrap();
    assert_eq!(breach["data"]["target"], "update");
    let quiet_pages: Vec<&Value> =
        timeline.iter().filter(|e| e["kind"] == "paged" && e["data"]["reason"] == "no_update").collect();
    assert_eq!(quiet_pages.len(), 1, "{quiet_pages:#?}");
    assert_eq!(quiet_pages[0]["data"]["to"][0], desk.user(1).name.as_str());
}

/// A ticket with a Lark group of its own: the emergency card goes there and to the main
/// group, once each; so does the card saying who took it on.
async fn the_emergency_card_shows_in_the_ticket_group_and_the_main_group(db: Db) {
    let desk = Box::pin(LarkDesk::spawn(db, 4, 10_000)).await;
    let crew = crew(&desk).await;
    let app = &desk.app;
    let customer = app.walk(&format!("/api/v1/people?org_id={}", id(&crew.org))).await.remove(0);
    let ticket = app
        .post(
            "/api/v1/tickets",
            &app.admin,
            json!({ "org_id": crew.org["id"], "title": "Warehouse scanners offline", "requester_id": customer["id"],
                    "assignee_id": crew.engineer["id"] }),
        )
        .await
        .expect(201);
    while !app.state.groups.run_once().await.expect("group pass").is_idle() {}
    let groups = app.walk(&format!("/api/v1/groups?org_id={}&kind=ticket", id(&crew.org))).await;
    let group_chat = groups[0]["chat_id"].as_str().expect("the ticket's group exists in Lark").to_owned();
    desk.dispatch_until_idle().await;
    let said = |chat: &str| -> Vec<String> {
        desk.cards().into_iter().filter(|m| m.receive_id == chat).map(|m| m.content).collect()
    };
    let (in_group, in_main) = (said(&group_chat).len(), said(&crew.main_chat).len());

    app.post(
        &format!("/api/v1/tickets/{}/emergency", id(&ticket)),
        &app.admin,
        json!({ "kind": "service_unavailable", "text": "no scanner connects" }),
    )
    .await
    .expect(200);
    desk.dispatch_until_idle().await;
    for (chat, before) in [(&group_chat, in_group), (&crew.main_chat, in_main)] {
        let cards = said(chat);
        assert_eq!(cards.len(), before + 1, "one emergency card in {chat}");
        let card = cards.last().unwrap();
        assert!(
            card.contains("Emergency declared · #1 Warehouse scanners offline") && card.contains("no scanner connects"),
            "{card}"
        );
    }
    fire(&desk).await;
    let engineer_token = app.token_for(&crew.engineer).await;
    app.post(&format!("/api/v1/tickets/{}/acknowledge", id(&ticket)), &engineer_token, json!({})).await.expect(200);
    desk.dispatch_until_idle().await;
    for (chat, before) in [(&group_chat, in_group), (&crew.main_chat, in_main)] {
        let cards = said(chat);
        assert_eq!(cards.len(), before + 2, "{chat}: {cards:#?}");
        assert!(cards.last().unwrap().contains("Next update by"), "{}", cards.last().unwrap());
    }
}
