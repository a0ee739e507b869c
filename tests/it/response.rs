//! Response targets end to end: clocks in business hours, paused while the customer is
//! asked, tightened by escalation; warnings before a breach and the breach recorded once,
//! across a restart and across two instances on one PostgreSQL database.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use escalation::{TimerWorker, WorkerSettings};
use serde_json::{Value, json};

use crate::on_both_databases;
use crate::paging::{fire, put};
use crate::support::lark::LarkDesk;
use crate::support::{Db, TestApp};

on_both_databases!(
    a_p2_without_first_response_warns_then_breaches_once_across_a_restart,
    waiting_on_the_customer_pauses_the_clock_and_a_response_meets_it,
    escalation_tightens_the_targets_and_tells_the_new_level,
);

fn at(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

fn id(v: &Value) -> &str {
    v["id"].as_str().unwrap()
}

/// Monday 23 November 2026, 09:00 UTC: the default calendar (Monday to Friday,
/// 09:00–18:00 UTC) has just opened.
const MONDAY: &str = "2026-11-23T09:00:00Z";

fn target<'a>(view: &'a Value, name: &str) -> &'a Value {
    let found = view["targets"].as_array().unwrap().iter().find(|t| t["target"] == name);
    assert!(found.is_some(), "no {name} target: {view:#}");
    found.unwrap()
}

async fn view(app: &TestApp, ticket: &Value) -> Value {
    app.get(&format!("/api/v1/tickets/{}/escalation", id(ticket)), &app.admin).await.expect(200)
}

async fn kinds(app: &TestApp, ticket: &Value, kind: &str) -> Vec<Value> {
    app.walk(&format!("/api/v1/tickets/{}/timeline", id(ticket)))
        .await
        .into_iter()
        .filter(|e| e["kind"] == kind)
        .collect()
}

/// A P2 on Premium gets its first response in two business hours: a warning at 80 %
/// (1 h 36) to the assignee, then the breach to the assignee and the TAM, each once; the
/// breach is fired by a second instance started after the warning (a restart), from what
/// the database holds.
async fn a_p2_without_first_response_warns_then_breaches_once_across_a_restart(db: Db) {
    let desk = Box::pin(LarkDesk::spawn(db, 3, 10_000)).await;
    desk.clock.set(at(MONDAY));
    let app = &desk.app;
    let tam = desk.staff(0, "tam").await;
    let engineer = desk.staff(1, "engineer").await;
    let org = app
        .post("/api/v1/orgs", &app.admin, json!({ "name": "Acme", "support_plan": "premium", "tam_id": tam["id"] }))
        .await
        .expect(201);
    let ticket = app
        .post(
            "/api/v1/tickets",
            &app.admin,
            json!({ "org_id": org["id"], "title": "Exports time out", "severity": "P2", "assignee_id": engineer["id"] }),
        )
        .await
        .expect(201);
    desk.dispatch_until_idle().await;
    let before = (desk.cards_to(0).len(), desk.cards_to(1).len());

    let v = view(app, &ticket).await;
    let first = target(&v, "first_response");
    assert_eq!((first["state"].as_str(), first["allowance"].as_str()), (Some("running"), Some("2h")));
    assert_eq!(
        (first["warn_at"].as_str(), first["due_at"].as_str()),
        (Some("2026-11-23T10:36:00Z"), Some("2026-11-23T11:00:00Z"))
    );
    assert!(!first["around_the_clock"].as_bool().unwrap());
    // 24 business hours: Monday 9, Tuesday 9, Wednesday 6.
    assert_eq!(target(&v, "resolution")["due_at"], "2026-11-25T15:00:00Z");

    desk.clock.set(at("2026-11-23T10:35:59Z"));
    assert!(fire(&desk).await.warnings.is_empty(), "not yet");
    desk.clock.set(at("2026-11-23T10:36:00Z"));
    let report = fire(&desk).await;
    assert_eq!(report.warnings.len(), 1, "{report:?}");
    assert!(fire(&desk).await.is_idle(), "the warning goes once");
    desk.dispatch_until_idle().await;
    let warned = desk.cards_to(1);
    assert_eq!(warned.len(), before.1 + 1);
    assert!(
        warned.last().unwrap().content.contains("first response target runs out at 11:00 UTC"),
        "{}",
        warned.last().unwrap().content
    );
    assert_eq!(desk.cards_to(0).len(), before.0, "the TAM is not warned");

    // A restart: a new instance on the same database knows only what the database holds.
    let second = Box::pin(TestApp::spawn_manual(desk.settings.clone(), desk.clock.clone())).await;
    desk.clock.set(at("2026-11-23T11:00:00Z"));
    let report = desk_api::workers::run_escalation_once(&second.state).await.unwrap();
    assert_eq!(report.breaches.len(), 1, "{report:?}");
    assert!(report.warnings.is_empty());
    for _ in 0..2 {
        assert!(desk_api::workers::run_escalation_once(&second.state).await.unwrap().is_idle());
        assert!(fire(&desk).await.is_idle(), "the first instance finds nothing left to fire");
    }
    desk.clock.set(at("2026-11-23T11:10:00Z"));
    assert!(fire(&desk).await.is_idle());
    desk.dispatch_until_idle().await;
    for person in [0, 1] {
        let last = desk.cards_to(person).pop().unwrap();
        assert!(last.content.contains("first response target was missed at 11:00 UTC"), "{}", last.content);
    }

    let warnings = kinds(app, &ticket, "response_warning").await;
    let breaches = kinds(app, &ticket, "response_breached").await;
    assert_eq!((warnings.len(), breaches.len()), (1, 1));
    assert_eq!(warnings[0]["data"], json!({ "target": "first_response", "due_at": "2026-11-23T11:00:00Z" }));
    assert_eq!(warnings[0]["at"], "2026-11-23T10:36:00Z");
    assert_eq!(
        (breaches[0]["actor"]["kind"].as_str(), breaches[0]["actor"]["name"].as_str()),
        (Some("system"), Some("Larkdesk"))
    );
    assert_eq!(breaches[0]["at"], "2026-11-23T11:00:00Z");
    let v = view(app, &ticket).await;
    assert_eq!(target(&v, "first_response")["breached_at"], "2026-11-23T11:00:00Z");

    let metrics = second.client.get(format!("{}/metrics", second.base)).send().await.unwrap().text().await.unwrap();
    assert!(
        metrics.lines().any(|l| l.starts_with("desk_response_target_breaches_total{")
            && l.contains("target=\"first_response\"")
            && l.contains("severity=\"P2\"")
            && l.ends_with(" 1")),
        "{metrics}"
    );
}

/// Asking the customer something is a response; while the ticket waits on them the
/// clocks stop, and they run on from where they were when the customer answers.
async fn waiting_on_the_customer_pauses_the_clock_and_a_response_meets_it(db: Db) {
    let clock = Arc::new(desk_store::ManualClock::new(at(MONDAY)));
    let app = Box::pin(TestApp::spawn_manual(crate::support::settings_for(db), clock.clone())).await;
    let org = app.org("Acme").await;
    let engineer = app.staff("Zhang Wei", "engineer").await;
    let token = app.token_for(&engineer).await;
    let ticket = app
        .post("/api/v1/tickets", &app.admin, json!({ "org_id": org["id"], "title": "Slow reports", "severity": "P2" }))
        .await
        .expect(201);
    let path = |what: &str| format!("/api/v1/tickets/{}/{what}", id(&ticket));

    // An internal note is not a response.
    clock.advance(TimeDelta::minutes(30));
    app.post(&path("comments"), &token, json!({ "body": "looks like the index", "visibility": "internal" }))
        .await
        .expect(201);
    assert_eq!(target(&view(&app, &ticket).await, "first_response")["state"], "running");

    // 10:00: the engineer asks the customer for logs.
    clock.set(at("2026-11-23T10:00:00Z"));
    app.post(&path("transition"), &token, json!({ "to": "waiting_on_customer" })).await.expect(200);
    let v = view(&app, &ticket).await;
    assert_eq!(
        (target(&v, "first_response")["state"].as_str(), target(&v, "first_response")["met_at"].as_str()),
        (Some("met"), Some("2026-11-23T10:00:00Z"))
    );
    for name in ["update", "resolution"] {
        assert_eq!(target(&v, name)["state"], "paused", "{name}");
        assert!(target(&v, name)["due_at"].is_null(), "{name}");
    }
    assert_eq!(target(&v, "resolution")["used_secs"], 3_600);

    // A day of waiting costs nothing.
    clock.set(at("2026-11-24T10:00:00Z"));
    assert!(desk_api::workers::run_escalation_once(&app.state).await.unwrap().is_idle());
    app.post(&path("transition"), &token, json!({ "to": "in_progress" })).await.expect(200);
    let v = view(&app, &ticket).await;
    // Update every 4 business hours, from the answer; resolution: 23 h left from Tuesday
    // 10:00 is Tuesday 8, Wednesday 9, Thursday 6.
    assert_eq!(target(&v, "update")["due_at"], "2026-11-24T14:00:00Z");
    assert_eq!(target(&v, "resolution")["due_at"], "2026-11-26T15:00:00Z");

    // Each public update starts the update clock again.
    clock.set(at("2026-11-24T11:00:00Z"));
    app.post(&path("comments"), &token, json!({ "body": "Found it: a missing index" })).await.expect(201);
    let v = view(&app, &ticket).await;
    assert_eq!(
        (target(&v, "update")["started_at"].as_str(), target(&v, "update")["due_at"].as_str()),
        (Some("2026-11-24T11:00:00Z"), Some("2026-11-24T15:00:00Z"))
    );

    // Resolved: resolution met, no more updates due; a reopen runs the clock on.
    clock.set(at("2026-11-24T12:00:00Z"));
    app.post(&path("transition"), &token, json!({ "to": "resolved" })).await.expect(200);
    let v = view(&app, &ticket).await;
    assert_eq!(target(&v, "resolution")["state"], "met");
    assert_eq!(target(&v, "update")["state"], "stopped");
    clock.set(at("2026-11-25T09:00:00Z"));
    app.post(&path("transition"), &app.admin, json!({ "to": "open" })).await.expect(200);
    let v = view(&app, &ticket).await;
    assert_eq!(target(&v, "resolution")["state"], "running");
    // 1 h on Monday and 2 h on Tuesday used: 21 h left from Wednesday 09:00 is Wednesday
    // 9, Thursday 9, Friday 3.
    assert_eq!(target(&v, "resolution")["used_secs"], 3 * 3_600);
    assert_eq!(target(&v, "resolution")["due_at"], "2026-11-27T12:00:00Z");
    assert!(kinds(&app, &ticket, "response_breached").await.is_empty());
}

/// An organisation's own ladder: escalating shrinks what is left of each target and tells
/// the level's people; its top refuses, as does a closed ticket.
async fn escalation_tightens_the_targets_and_tells_the_new_level(db: Db) {
    let desk = Box::pin(LarkDesk::spawn(db, 3, 10_000)).await;
    desk.clock.set(at(MONDAY));
    let app = &desk.app;
    let tam = desk.staff(0, "tam").await;
    let engineer = desk.staff(1, "engineer").await;
    let manager = desk.staff(2, "engineer").await;
    let org = app
        .post("/api/v1/orgs", &app.admin, json!({ "name": "Acme", "support_plan": "premium", "tam_id": tam["id"] }))
        .await
        .expect(201);
    let policy = put(
        app,
        &format!("/api/v1/orgs/{}/escalation-policy", id(&org)),
        json!({ "levels": [
            { "name": "engineer" },
            { "name": "duty_manager", "notify": [{ "person_id": manager["id"] }], "target_percent": 50 }
        ] }),
    )
    .await
    .expect(200);
    assert_eq!(policy["effective"]["levels"][1]["name"], "duty_manager");
    assert_eq!(policy["layer"]["levels"].as_array().unwrap().len(), 2);
    assert!(policy["layer"].get("targets").is_none(), "the layer holds only what it changes");
    assert_eq!(policy["effective"]["targets"]["P3"]["first_response"], "4h", "inherited from the plan");

    let ticket = app
        .post(
            "/api/v1/tickets",
            &app.admin,
            json!({ "org_id": org["id"], "title": "Sync lags", "severity": "P3", "assignee_id": engineer["id"] }),
        )
        .await
        .expect(201);
    assert_eq!(target(&view(app, &ticket).await, "first_response")["due_at"], "2026-11-23T13:00:00Z");
    desk.dispatch_until_idle().await;

    desk.clock.set(at("2026-11-23T10:00:00Z"));
    let raised = app
        .post(&format!("/api/v1/tickets/{}/escalate", id(&ticket)), &app.admin, json!({ "reason": "month-end close" }))
        .await
        .expect(200);
    assert_eq!(
        (raised["escalation"]["level"].as_i64(), raised["escalation"]["name"].as_str()),
        (Some(1), Some("duty_manager"))
    );
    let v = view(app, &ticket).await;
    assert_eq!((v["level_name"].as_str(), v["levels"].as_array().unwrap().len()), (Some("duty_manager"), 2));
    // Three hours were left; the duty manager's level halves them.
    assert_eq!(target(&v, "first_response")["due_at"], "2026-11-23T11:30:00Z");
    desk.dispatch_until_idle().await;
    let told = desk.cards_to(2);
    assert_eq!(told.len(), 1, "the level's own people are told");
    assert!(told[0].content.contains("escalated it to duty_manager: month-end close"), "{}", told[0].content);
    let timeline = kinds(app, &ticket, "escalated").await;
    assert_eq!(timeline[0]["data"]["level_name"], "duty_manager");
    // Reading the ticket, alone or in a list, names the level on the org's own ladder.
    let read = app.get(&format!("/api/v1/tickets/{}", id(&ticket)), &app.admin).await.expect(200);
    assert_eq!(read["escalation"]["name"], "duty_manager");
    let listed = app.get(&format!("/api/v1/tickets?org_id={}", id(&org)), &app.admin).await.expect(200);
    assert_eq!(listed["items"][0]["escalation"]["name"], "duty_manager");

    // The top of this ladder is level 1.
    desk.clock.set(at("2026-11-23T10:20:00Z"));
    let problem = app
        .post(&format!("/api/v1/tickets/{}/escalate", id(&ticket)), &app.admin, json!({ "reason": "still lagging" }))
        .await
        .expect_problem(409, "escalation_top_level");
    assert!(problem["detail"].as_str().unwrap().contains("duty_manager"), "{problem:#}");

    // A closed ticket is not escalated.
    for to in ["in_progress", "resolved", "closed"] {
        app.post(&format!("/api/v1/tickets/{}/transition", id(&ticket)), &app.admin, json!({ "to": to }))
            .await
            .expect(200);
    }
    app.post(&format!("/api/v1/tickets/{}/escalate", id(&ticket)), &app.admin, json!({ "reason": "x" }))
        .await
        .expect_problem(409, "ticket_closed");
    let v = view(app, &ticket).await;
    assert!(v["targets"].as_array().unwrap().iter().all(|t| t["state"] != "running"), "{v:#}");
}

/// Two `desk` instances' escalation workers racing on one PostgreSQL database, in small
/// batches: every warning, breach and page happens once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_desk_instances_on_postgres_fire_each_timer_once() {
    let desk = Box::pin(LarkDesk::spawn(Db::Postgres, 3, 10_000)).await;
    desk.clock.set(at(MONDAY));
    let app = &desk.app;
    let tam = desk.staff(0, "tam").await;
    let engineer = desk.staff(1, "engineer").await;
    let org = app
        .post("/api/v1/orgs", &app.admin, json!({ "name": "Acme", "support_plan": "enterprise", "tam_id": tam["id"] }))
        .await
        .expect(201);
    let mut tickets = Vec::new();
    for i in 0..24 {
        let t = app
            .post(
                "/api/v1/tickets",
                &app.admin,
                json!({ "org_id": org["id"], "title": format!("Outage {i}"), "severity": "P1", "assignee_id": engineer["id"] }),
            )
            .await
            .expect(201);
        if i < 4 {
            app.post(
                &format!("/api/v1/tickets/{}/emergency", id(&t)),
                &app.admin,
                json!({ "kind": "service_unavailable", "text": format!("site {i} down") }),
            )
            .await
            .expect(200);
        }
        tickets.push(t);
    }
    let instance = || async {
        let store = desk_api::startup::connect(&desk.settings).await.unwrap();
        let settings = WorkerSettings { batch: 3, ..WorkerSettings::new(Duration::from_secs(300)) };
        TimerWorker::new(store, desk.clock.clone(), settings)
    };
    let (one, two) = (instance().await, instance().await);
    let mut totals = (0, 0, 0);
    let mut race = async || loop {
        let (a, b) = tokio::join!(one.run_once(), two.run_once());
        let (a, b) = (a.unwrap(), b.unwrap());
        for r in [&a, &b] {
            totals.0 += r.warnings.len();
            totals.1 += r.breaches.len();
            totals.2 += r.pages.len();
        }
        if a.is_idle() && b.is_idle() {
            break;
        }
    };
    // Enterprise P1: first response in 15 minutes around the clock, warned at 12; the
    // emergencies page at 0, 5, 10 (step 1, the assignee) and 15 (step 2, the TAM).
    for minute in [0, 5, 10, 12, 15] {
        desk.clock.set(at(MONDAY) + TimeDelta::minutes(minute));
        Box::pin(race()).await;
    }
    assert_eq!(totals, (24, 24, 16), "(warnings, breaches, pages)");
    for t in &tickets {
        assert_eq!(kinds(app, t, "response_warning").await.len(), 1, "{}", id(t));
        assert_eq!(kinds(app, t, "response_breached").await.len(), 1, "{}", id(t));
    }
    for t in &tickets[..4] {
        let steps: Vec<(u64, u64)> = kinds(app, t, "paged")
            .await
            .iter()
            .map(|e| (e["data"]["step"].as_u64().unwrap(), e["data"]["page"].as_u64().unwrap()))
            .collect();
        assert_eq!(steps, [(1, 1), (1, 2), (1, 3), (2, 1)], "{}", id(t));
    }
}
