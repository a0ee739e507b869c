//! Ticketing systems in and webhooks out, end to end: signed deliveries open tickets with
//! their Lark group, once; tampered, stale and wrongly signed ones change nothing; a
//! rotated second secret works; deliveries out of order end in the newest state; reminder
//! rules tell who they name; subscribers get every event once, in order per ticket,
//! through failures, and a dead subscriber holds up nobody. Time is a manual clock.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::TimeDelta;
use desk_store::{Clock, ManualClock};
use hmac::{Hmac, Mac};
use reqwest::Method;
use serde_json::{Value, json};
use sha2::Sha256;
use tokio::sync::mpsc;

use crate::on_both_databases;
use crate::support::lark::{LarkDesk, START, secret_key};
use crate::support::{Db, Reply, TestApp, settings_for};

// ---- signing, as a ticketing system does it (independently of the desk's code) ----------

fn hmac(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    let mut m = Hmac::<Sha256>::new_from_slice(key).unwrap();
    for p in parts {
        m.update(p);
    }
    m.finalize().into_bytes().to_vec()
}

/// `v1,<base64>` under a `whsec_` secret.
fn standard_signature(secret: &str, id: &str, ts: i64, body: &[u8]) -> String {
    let key = STANDARD.decode(secret.strip_prefix("whsec_").unwrap()).unwrap();
    format!("v1,{}", STANDARD.encode(hmac(&key, &[format!("{id}.{ts}.").as_bytes(), body])))
}

/// `sha256=<hex>` under a raw secret.
fn github_signature(secret: &str, body: &[u8]) -> String {
    format!("sha256={}", hex::encode(hmac(secret.as_bytes(), &[body])))
}

/// Posts raw bytes with headers to a source's hook route.
async fn post_hook(app: &TestApp, source: &str, headers: &[(&str, String)], body: &[u8]) -> Reply {
    let mut req = app
        .client
        .post(format!("{}/api/v1/hooks/ticketing/{source}", app.base))
        .header("content-type", "application/json")
        .body(body.to_vec());
    for (k, v) in headers {
        req = req.header(*k, v);
    }
    TestApp::reply(req.send().await.unwrap()).await
}

/// A Standard Webhooks delivery signed with `secret` at `ts`.
async fn send(app: &TestApp, source: &str, secret: &str, id: &str, ts: i64, body: &Value) -> Reply {
    let bytes = serde_json::to_vec(body).unwrap();
    let headers = [
        ("webhook-id", id.to_owned()),
        ("webhook-timestamp", ts.to_string()),
        ("webhook-signature", standard_signature(secret, id, ts, &bytes)),
    ];
    post_hook(app, source, &headers, &bytes).await
}

async fn register(app: &TestApp, body: Value) -> Value {
    app.post("/api/v1/hooks/sources", &app.admin, body).await.expect(201)
}

fn now_of(app: &TestApp) -> i64 {
    app.state.clock.now().timestamp()
}

async fn timeline(app: &TestApp, ticket: &str) -> Vec<Value> {
    app.walk(&format!("/api/v1/tickets/{ticket}/timeline")).await
}

/// Settings for a desk with a secret key.
fn keyed_settings(db: Db, tune: impl FnOnce(&mut desk_api::Settings)) -> desk_api::Settings {
    let mut settings = settings_for(db);
    settings.secret_key = Some(secret_key());
    tune(&mut settings);
    settings
}

/// A desk with a manual clock, a secret key and no background workers.
async fn manual_desk(db: Db, tune: impl FnOnce(&mut desk_api::Settings)) -> (TestApp, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(START.parse().unwrap()));
    (TestApp::spawn_manual(keyed_settings(db, tune), clock.clone()).await, clock)
}

// ---- inbound ----------------------------------------------------------------------------

on_both_databases!(
    a_signed_delivery_opens_a_ticket_with_its_group_once_and_refused_ones_change_nothing,
    github_style_deliveries_and_a_rotated_second_secret_work,
    deliveries_applied_out_of_order_end_in_the_newest_state,
);

async fn a_signed_delivery_opens_a_ticket_with_its_group_once_and_refused_ones_change_nothing(db: Db) {
    let desk = Box::pin(LarkDesk::spawn(db, 3, 10_000)).await;
    let app = &desk.app;
    let tam = desk.staff(0, "tam").await;
    let engineer = desk.staff(1, "engineer").await;
    let org = app.post("/api/v1/orgs", &app.admin, json!({ "name": "Acme", "tam_id": tam["id"] })).await.expect(201);
    let registered =
        register(app, json!({ "name": "zendesk", "display_name": "Zendesk", "default_org_id": org["id"] })).await;
    let secret = registered["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_"), "{registered:#}");
    assert_eq!(registered["source"]["style"], "standard_webhooks");
    assert!(registered["source"]["url"].as_str().unwrap().ends_with("/api/v1/hooks/ticketing/zendesk"));
    assert_eq!(registered["source"]["secrets"][0]["hint"].as_str().unwrap().chars().count(), 11);
    // Secrets never come back.
    let shown = app.get("/api/v1/hooks/sources/zendesk", &app.admin).await.expect(200);
    assert!(!shown.to_string().contains(&secret[8..]));

    let created = json!({
        "type": "ticket.created",
        "data": { "ticket": {
            "external_id": "ZD-1001",
            "url": "https://acme.zendesk.com/agent/tickets/1001",
            "title": "Printer on fire",
            "description": "Third floor.",
            "severity": "urgent",
            "status": "new",
            "assignee": { "email": "P1@acme.test" },
            "version": 1
        } }
    });
    let ack = send(app, "zendesk", &secret, "msg_1", now_of(app), &created).await.expect(200);
    assert_eq!((ack["duplicate"].as_bool(), ack["outcome"].as_str()), (Some(false), Some("created")), "{ack:#}");
    let id = ack["ticket_id"].as_str().unwrap().to_owned();
    let ticket = app.get(&format!("/api/v1/tickets/{id}"), &app.admin).await.expect(200);
    assert_eq!(ticket["title"], "Printer on fire");
    assert_eq!(ticket["severity"], "P1");
    assert_eq!(ticket["status"], "open");
    assert_eq!(ticket["org_id"], org["id"]);
    assert_eq!(ticket["assignee_id"], engineer["id"]);
    assert_eq!(
        ticket["external_refs"],
        json!([{ "system": "zendesk", "external_id": "ZD-1001", "url": "https://acme.zendesk.com/agent/tickets/1001" }])
    );
    let opened = timeline(app, &id).await;
    assert_eq!(opened[0]["actor"]["name"], "hook:zendesk");
    assert_eq!(opened[0]["actor"]["kind"], "system");

    // Its Lark group was asked for in the ticket's own transaction, and is made.
    let groups = app.walk(&format!("/api/v1/groups?org_id={}&kind=ticket", org["id"].as_str().unwrap())).await;
    let group: Vec<&Value> = groups.iter().filter(|g| g["ticket_id"] == id.as_str()).collect();
    assert_eq!(group.len(), 1, "{groups:#?}");
    assert_eq!(group[0]["state"], "requested");
    let report = app.state.groups.run_once().await.unwrap();
    assert_eq!(report.created, 1, "{report:?}");
    let chats = desk.sim.snapshot().chats;
    assert!(chats.iter().any(|c| c.name == format!("#{} Printer on fire", ticket["number"])), "{chats:#?}");
    let entries = timeline(app, &id).await;

    // The same delivery again is acknowledged and changes nothing.
    let counts = app.counts().await;
    let again = send(app, "zendesk", &secret, "msg_1", now_of(app), &created).await.expect(200);
    assert_eq!((again["duplicate"].as_bool(), again["ticket_id"].as_str()), (Some(true), Some(id.as_str())));
    assert_eq!(app.counts().await, counts);
    assert_eq!(timeline(app, &id).await, entries);

    // Tampered, stale, early, unsigned, wrongly signed: refused, nothing changes.
    let update = json!({ "type": "ticket.updated", "data": { "ticket": { "external_id": "ZD-1001", "title": "Hacked", "version": 2 } } });
    let bytes = serde_json::to_vec(&update).unwrap();
    let ts = now_of(app);
    let signed = |id: &str, ts: i64| standard_signature(&secret, id, ts, &bytes);
    let tampered = serde_json::to_vec(&json!({ "type": "ticket.updated", "data": { "ticket": { "external_id": "ZD-1001", "title": "Hacked!", "version": 2 } } })).unwrap();
    let headers = |id: &str, ts: i64, sig: String| {
        vec![("webhook-id", id.to_owned()), ("webhook-timestamp", ts.to_string()), ("webhook-signature", sig)]
    };
    post_hook(app, "zendesk", &headers("msg_2", ts, signed("msg_2", ts)), &tampered)
        .await
        .expect_problem(401, "hook_signature_invalid");
    post_hook(app, "zendesk", &headers("msg_3", ts - 301, signed("msg_3", ts - 301)), &bytes)
        .await
        .expect_problem(401, "hook_timestamp_stale");
    post_hook(app, "zendesk", &headers("msg_4", ts + 301, signed("msg_4", ts + 301)), &bytes)
        .await
        .expect_problem(401, "hook_timestamp_stale");
    // A signature for another id (a replay under a new id) does not fit.
    post_hook(app, "zendesk", &headers("msg_5", ts, signed("msg_2", ts)), &bytes)
        .await
        .expect_problem(401, "hook_signature_invalid");
    post_hook(app, "zendesk", &[("webhook-id", "msg_6".into()), ("webhook-timestamp", ts.to_string())], &bytes)
        .await
        .expect_problem(401, "hook_signature_missing");
    let other = format!("whsec_{}", STANDARD.encode([7u8; 32]));
    send(app, "zendesk", &other, "msg_7", ts, &update).await.expect_problem(401, "hook_signature_invalid");
    send(app, "nobody", &secret, "msg_8", ts, &update).await.expect_problem(404, "hook_source_not_found");
    assert_eq!(app.get(&format!("/api/v1/tickets/{id}"), &app.admin).await.expect(200)["title"], "Printer on fire");
    assert_eq!(timeline(app, &id).await, entries);
    assert_eq!(app.counts().await, counts);

    // Refused deliveries left no receipt: the genuine one under a refused id still applies.
    let ack = send(app, "zendesk", &secret, "msg_2", ts, &update).await.expect(200);
    assert_eq!(ack["outcome"], "updated");
    assert_eq!(app.get(&format!("/api/v1/tickets/{id}"), &app.admin).await.expect(200)["title"], "Hacked");

    // The source's log shows what was applied.
    let log = app.walk("/api/v1/hooks/sources/zendesk/deliveries").await;
    let ids: Vec<&str> = log.iter().map(|r| r["delivery_id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["msg_2", "msg_1"]);
    assert_eq!(log[1]["outcome"], "created");

    // A source turned off answers 410; only admins manage sources.
    app.patch("/api/v1/hooks/sources/zendesk", &app.admin, json!({ "enabled": false })).await.expect(200);
    send(app, "zendesk", &secret, "msg_9", ts, &update).await.expect_problem(410, "hook_source_disabled");
    let tam_token = app.token_for(&tam).await;
    app.post("/api/v1/hooks/sources", &tam_token, json!({ "name": "jira" })).await.expect_problem(403, "forbidden");
    app.get("/api/v1/hooks/sources", &tam_token).await.expect(200);
}

async fn github_style_deliveries_and_a_rotated_second_secret_work(db: Db) {
    let (app, _clock) = manual_desk(db, |_| {}).await;
    let org = app.org("Globex").await;

    // GitHub style: the signature covers the body, which carries its id and time.
    let gh_secret = "It's a Secret to Everybody, 42";
    let gh = register(
        &app,
        json!({ "name": "freshdesk", "style": "github", "default_org_id": org["id"], "secret": gh_secret }),
    )
    .await;
    assert_eq!(gh["secret"], Value::Null, "a supplied secret is not echoed");
    let body = json!({
        "id": "fd-delivery-1",
        "type": "ticket.created",
        "timestamp": app.state.clock.now().to_rfc3339(),
        "data": { "ticket": { "external_id": "FD-7", "title": "Login loop", "severity": "P2" } }
    });
    let bytes = serde_json::to_vec(&body).unwrap();
    let sig = github_signature(gh_secret, &bytes);
    let ack = post_hook(&app, "freshdesk", &[("x-hub-signature-256", sig.clone())], &bytes).await.expect(200);
    assert_eq!(ack["outcome"], "created");
    let again = post_hook(&app, "freshdesk", &[("x-hub-signature-256", sig)], &bytes).await.expect(200);
    assert_eq!(again["duplicate"], true);
    let mut tampered = bytes.clone();
    tampered.extend_from_slice(b" ");
    post_hook(&app, "freshdesk", &[("x-hub-signature-256", github_signature(gh_secret, &bytes))], &tampered)
        .await
        .expect_problem(401, "hook_signature_invalid");
    let old = json!({ "id": "fd-2", "type": "ticket.updated", "timestamp": now_of(&app) - 600,
                      "data": { "ticket": { "external_id": "FD-7", "title": "Old" } } });
    let old = serde_json::to_vec(&old).unwrap();
    post_hook(&app, "freshdesk", &[("x-hub-signature-256", github_signature(gh_secret, &old))], &old)
        .await
        .expect_problem(401, "hook_timestamp_stale");
    let untimed = serde_json::to_vec(&json!({ "id": "fd-3", "type": "ticket.updated",
                                              "data": { "ticket": { "external_id": "FD-7", "title": "x" } } }))
    .unwrap();
    post_hook(&app, "freshdesk", &[("x-hub-signature-256", github_signature(gh_secret, &untimed))], &untimed)
        .await
        .expect_problem(401, "hook_timestamp_missing");
    // The delivery header names it when the body does not.
    let headed = json!({ "type": "ticket.updated", "timestamp": now_of(&app),
                         "data": { "ticket": { "external_id": "FD-7", "severity": "low" } } });
    let headed = serde_json::to_vec(&headed).unwrap();
    let h = [("x-hub-signature-256", github_signature(gh_secret, &headed)), ("x-github-delivery", "gh-9".into())];
    assert_eq!(post_hook(&app, "freshdesk", &h, &headed).await.expect(200)["outcome"], "updated");

    // Standard Webhooks: a second secret, then the first removed.
    let zd = register(&app, json!({ "name": "zendesk", "default_org_id": org["id"] })).await;
    let first = zd["secret"].as_str().unwrap().to_owned();
    let added = app.post("/api/v1/hooks/sources/zendesk/secrets", &app.admin, json!({})).await.expect(201);
    let second = added["secret"].as_str().unwrap().to_owned();
    assert_eq!(added["source"]["secrets"].as_array().unwrap().len(), 2);
    let delivery = |n: u32, title: &str| json!({ "type": "ticket.created", "data": { "ticket": { "external_id": format!("ZD-{n}"), "title": title } } });
    let ts = now_of(&app);
    assert_eq!(
        send(&app, "zendesk", &second, "a", ts, &delivery(1, "new secret")).await.expect(200)["outcome"],
        "created"
    );
    assert_eq!(
        send(&app, "zendesk", &first, "b", ts, &delivery(2, "old secret")).await.expect(200)["outcome"],
        "created"
    );
    // Both signatures at once, as a sender mid-rotation sends them.
    let both = delivery(3, "both");
    let b = serde_json::to_vec(&both).unwrap();
    let header = format!("{} {}", standard_signature(&first, "c", ts, &b), standard_signature(&second, "c", ts, &b));
    let h = [("webhook-id", "c".to_owned()), ("webhook-timestamp", ts.to_string()), ("webhook-signature", header)];
    post_hook(&app, "zendesk", &h, &b).await.expect(200);
    app.post("/api/v1/hooks/sources/zendesk/secrets", &app.admin, json!({}))
        .await
        .expect_problem(409, "hook_source_secrets_full");
    let first_id = zd["secret_id"].as_str().unwrap();
    let left = app
        .call(Method::DELETE, &format!("/api/v1/hooks/sources/zendesk/secrets/{first_id}"), Some(&app.admin), None)
        .await
        .expect(200);
    assert_eq!(left["secrets"].as_array().unwrap().len(), 1);
    send(&app, "zendesk", &first, "d", ts, &delivery(4, "old again"))
        .await
        .expect_problem(401, "hook_signature_invalid");
    send(&app, "zendesk", &second, "e", ts, &delivery(5, "new again")).await.expect(200);
    let second_id = added["secret_id"].as_str().unwrap();
    app.call(Method::DELETE, &format!("/api/v1/hooks/sources/zendesk/secrets/{second_id}"), Some(&app.admin), None)
        .await
        .expect_problem(409, "hook_source_last_secret");
    // A supplied secret must fit the style.
    app.post("/api/v1/hooks/sources", &app.admin, json!({ "name": "bad", "secret": "whsec_short" }))
        .await
        .expect_problem(422, "validation_failed");
    app.post("/api/v1/hooks/sources", &app.admin, json!({ "name": "zendesk" }))
        .await
        .expect_problem(409, "hook_source_exists");
}

async fn deliveries_applied_out_of_order_end_in_the_newest_state(db: Db) {
    let (app, clock) = manual_desk(db, |_| {}).await;
    let org = app.org("Initech").await;
    let secret = register(&app, json!({ "name": "zendesk", "default_org_id": org["id"] })).await["secret"]
        .as_str()
        .unwrap()
        .to_owned();
    let ts = now_of(&app);
    let v = |kind: &str, version: i64, ticket: Value| {
        let mut t = ticket;
        t["external_id"] = json!("ZD-9");
        t["version"] = json!(version);
        json!({ "type": kind, "data": { "ticket": t } })
    };
    // The newest arrives first, then the two before it; a comment made early arrives last.
    let v3 = v("ticket.resolved", 3, json!({ "title": "Third", "severity": "P2" }));
    let v1 = v("ticket.created", 1, json!({ "title": "First", "severity": "P4", "status": "open" }));
    let v2 = v("ticket.updated", 2, json!({ "title": "Second", "status": "in_progress" }));
    let mut c1 = v("ticket.commented", 1, json!({}));
    c1["data"]["comment"] = json!({ "external_id": "c-1", "body": "It smells of toner.",
                                    "author": { "kind": "customer", "name": "Pat" } });
    let ack = send(&app, "zendesk", &secret, "d3", ts, &v3).await.expect(200);
    assert_eq!(ack["outcome"], "created");
    let id = ack["ticket_id"].as_str().unwrap().to_owned();
    assert_eq!(send(&app, "zendesk", &secret, "d1", ts, &v1).await.expect(200)["outcome"], "stale");
    assert_eq!(send(&app, "zendesk", &secret, "d2", ts, &v2).await.expect(200)["outcome"], "stale");
    assert_eq!(send(&app, "zendesk", &secret, "c1", ts, &c1).await.expect(200)["outcome"], "stale+commented");
    // The same comment under another delivery id is not added twice.
    assert_eq!(send(&app, "zendesk", &secret, "c1-again", ts, &c1).await.expect(200)["outcome"], "stale");

    let ticket = app.get(&format!("/api/v1/tickets/{id}"), &app.admin).await.expect(200);
    assert_eq!((ticket["title"].as_str(), ticket["severity"].as_str()), (Some("Third"), Some("P2")));
    assert_eq!(ticket["status"], "resolved");
    let moves: Vec<(Value, Value)> = timeline(&app, &id)
        .await
        .iter()
        .filter(|e| e["kind"] == "status_changed")
        .map(|e| (e["data"]["from"].clone(), e["data"]["to"].clone()))
        .collect();
    assert_eq!(moves, [(json!("open"), json!("in_progress")), (json!("in_progress"), json!("resolved"))]);
    let comments = app.walk(&format!("/api/v1/tickets/{id}/comments")).await;
    assert_eq!(comments.len(), 1);
    assert_eq!(comments[0]["author_name"], "Pat");

    // Newer again: reopened, back in the source's hands.
    let v4 = v("ticket.reopened", 4, json!({}));
    assert_eq!(send(&app, "zendesk", &secret, "d4", ts, &v4).await.expect(200)["outcome"], "updated");
    assert_eq!(app.get(&format!("/api/v1/tickets/{id}"), &app.admin).await.expect(200)["status"], "open");

    // Without versions, the source's updated time orders deliveries.
    let at = |minutes: i64| (clock.now() - TimeDelta::minutes(minutes)).to_rfc3339();
    let u = |title: &str, updated: String| json!({ "type": "ticket.updated", "data": { "ticket": { "external_id": "ZD-10", "title": title, "updated_at": updated } } });
    send(&app, "zendesk", &secret, "u2", ts, &u("Later", at(1))).await.expect(200);
    assert_eq!(send(&app, "zendesk", &secret, "u1", ts, &u("Earlier", at(2))).await.expect(200)["outcome"], "stale");
    let later = app.walk("/api/v1/tickets?q=later").await;
    assert_eq!(later.len(), 1);

    // An update for a ticket the desk does not know, without a title, is a clear 422 that
    // changes nothing; once the ticket exists the same delivery id applies.
    let before = app.counts().await;
    let bare = json!({ "type": "ticket.updated", "data": { "ticket": { "external_id": "ZD-11", "status": "pending", "version": 2 } } });
    let problem = send(&app, "zendesk", &secret, "x2", ts, &bare).await.expect_problem(422, "hook_ticket_unknown");
    assert_eq!(problem["errors"][0]["field"], "data.ticket.title", "{problem:#}");
    assert_eq!(app.counts().await, before);
    let opened = json!({ "type": "ticket.created", "data": { "ticket": { "external_id": "ZD-11", "title": "Eleven", "version": 1 } } });
    send(&app, "zendesk", &secret, "x1", ts, &opened).await.expect(200);
    assert_eq!(send(&app, "zendesk", &secret, "x2", ts, &bare).await.expect(200)["outcome"], "updated");
    let eleven = app.walk("/api/v1/tickets?q=eleven").await;
    assert_eq!(eleven[0]["status"], "waiting_on_customer");

    // Bad bodies name their fields and change nothing.
    let wrong = json!({ "type": "ticket.exploded", "data": { "ticket": { "external_id": "", "severity": "sev0" } } });
    let problem = send(&app, "zendesk", &secret, "y1", ts, &wrong).await.expect_problem(422, "validation_failed");
    let fields: Vec<&str> =
        problem["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
    assert_eq!(fields, ["type", "data.ticket.external_id", "data.ticket.severity"]);
    let unknown_field =
        json!({ "type": "ticket.updated", "data": { "ticket": { "external_id": "ZD-9", "priority": 1 } } });
    let problem = send(&app, "zendesk", &secret, "y2", ts, &unknown_field).await.expect_problem(422, "invalid_body");
    assert_eq!(problem["errors"][0]["field"], "data.ticket.priority");
    let nobody = json!({ "type": "ticket.updated", "data": { "ticket": { "external_id": "ZD-9", "version": 9,
                          "assignee": { "email": "ghost@vendor.test" } } } });
    let problem = send(&app, "zendesk", &secret, "y3", ts, &nobody).await.expect_problem(422, "validation_failed");
    assert_eq!(problem["errors"][0]["field"], "data.ticket.assignee.email");
    // A delivery too old to change anything is not refused for what it names.
    let mut old_nobody = nobody.clone();
    old_nobody["data"]["ticket"]["version"] = json!(1);
    assert_eq!(send(&app, "zendesk", &secret, "y4", ts, &old_nobody).await.expect(200)["outcome"], "stale");
    assert_eq!(app.counts().await, json!({ "orgs": 1, "people": 0, "tickets": 3 }));
}

// ---- reminders --------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reminder_rules_tell_who_they_name_about_changes_from_hooks() {
    let desk = Box::pin(LarkDesk::spawn(Db::Sqlite, 4, 10_000)).await;
    let app = &desk.app;
    let tam = desk.staff(0, "tam").await;
    let duty = desk.staff(3, "engineer").await;
    let org = app.post("/api/v1/orgs", &app.admin, json!({ "name": "Acme", "tam_id": tam["id"] })).await.expect(201);
    let org_id = org["id"].as_str().unwrap();
    let rules = format!("/api/v1/orgs/{org_id}/reminder-rules");
    let rule = app
        .post(
            &rules,
            &app.admin,
            json!({ "name": "P1 opened: tell the duty manager", "trigger": "ticket_created", "severities": ["P1"],
                    "audience": "person", "person_id": duty["id"] }),
        )
        .await
        .expect(201);
    assert_eq!((rule["class"].as_str(), rule["enabled"].as_bool()), (Some("action"), Some(true)));
    let problem = app
        .post(&rules, &app.admin, json!({ "name": "x", "trigger": "ticket_exploded", "audience": "boss" }))
        .await
        .expect_problem(422, "validation_failed");
    let fields: Vec<&str> =
        problem["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
    assert_eq!(fields, ["trigger", "audience"]);
    app.post(&rules, &app.admin, json!({ "name": "TAM on replies", "trigger": "customer_comment", "audience": "tam" }))
        .await
        .expect(201);
    assert_eq!(app.get(&rules, &app.admin).await.expect(200)["items"].as_array().unwrap().len(), 2);

    let secret = register(app, json!({ "name": "zendesk", "default_org_id": org["id"] })).await["secret"]
        .as_str()
        .unwrap()
        .to_owned();
    let ts = now_of(app);
    let p3 = json!({ "type": "ticket.created", "data": { "ticket": { "external_id": "ZD-1", "title": "Minor", "severity": "P3" } } });
    send(app, "zendesk", &secret, "m1", ts, &p3).await.expect(200);
    desk.dispatch_until_idle().await;
    assert!(desk.cards_to(3).is_empty(), "a P3 is not the duty manager's");
    let p1 = json!({ "type": "ticket.created", "data": { "ticket": { "external_id": "ZD-2", "title": "Plant down", "severity": "P1" } } });
    send(app, "zendesk", &secret, "m2", ts, &p1).await.expect(200);
    desk.dispatch_until_idle().await;
    let cards = desk.cards_to(3);
    assert_eq!(cards.len(), 1, "{cards:#?}");
    assert!(cards[0].content.contains("Plant down"));

    // Turned off, the rule tells nobody.
    let rule_path = format!("/api/v1/reminder-rules/{}", rule["id"].as_str().unwrap());
    app.patch(&rule_path, &app.admin, json!({ "enabled": false })).await.expect(200);
    desk.advance(TimeDelta::minutes(30));
    let p1b = json!({ "type": "ticket.created", "data": { "ticket": { "external_id": "ZD-3", "title": "Plant down again", "severity": "P1" } } });
    send(app, "zendesk", &secret, "m3", now_of(app), &p1b).await.expect(200);
    desk.dispatch_until_idle().await;
    assert_eq!(desk.cards_to(3).len(), 1);
    app.call(Method::DELETE, &rule_path, Some(&app.admin), None).await.expect(204);
    app.get(&rule_path, &app.admin).await.expect_problem(404, "reminder_rule_not_found");
}

// ---- outbound -----------------------------------------------------------------------------

/// One request a test receiver took.
#[derive(Debug, Clone)]
struct Received {
    id: String,
    timestamp: i64,
    signature: String,
    body: Value,
    raw: Vec<u8>,
}

/// What a receiver answers: `fail_first` 500s, then `status`.
#[derive(Debug)]
struct ReceiverState {
    fail_first: usize,
    status: u16,
    calls: usize,
    accepted: Vec<Received>,
}

/// A small actix-web subscriber on a random port.
struct Receiver {
    url: String,
    state: Arc<Mutex<ReceiverState>>,
    accepted: mpsc::UnboundedReceiver<Received>,
}

async fn receive(
    req: HttpRequest,
    body: web::Bytes,
    shared: web::Data<(Arc<Mutex<ReceiverState>>, mpsc::UnboundedSender<Received>)>,
) -> HttpResponse {
    let header = |n: &str| req.headers().get(n).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let got = Received {
        id: header("webhook-id"),
        timestamp: header("webhook-timestamp").parse().unwrap_or_default(),
        signature: header("webhook-signature"),
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
        raw: body.to_vec(),
    };
    let status = {
        let mut s = shared.0.lock().unwrap();
        s.calls += 1;
        if s.calls <= s.fail_first {
            500
        } else {
            if (200..300).contains(&s.status) {
                s.accepted.push(got.clone());
            }
            s.status
        }
    };
    if (200..300).contains(&status) {
        let _ = shared.1.send(got);
    }
    HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap()).body("receiver says so")
}

fn receiver(fail_first: usize, status: u16) -> Receiver {
    let state = Arc::new(Mutex::new(ReceiverState { fail_first, status, calls: 0, accepted: Vec::new() }));
    let (tx, rx) = mpsc::unbounded_channel();
    let shared = web::Data::new((state.clone(), tx));
    let server = HttpServer::new(move || App::new().app_data(shared.clone()).default_service(web::to(receive)))
        .workers(1)
        .bind(("127.0.0.1", 0))
        .unwrap();
    let port = server.addrs()[0].port();
    tokio::spawn(server.run());
    Receiver { url: format!("http://127.0.0.1:{port}/hooks"), state, accepted: rx }
}

fn verify(secret: &str, r: &Received) -> bool {
    let expected = standard_signature(secret, &r.id, r.timestamp, &r.raw);
    r.signature.split(' ').any(|s| s == expected)
}

async fn subscribe(app: &TestApp, url: &str, extra: Value) -> (Value, String) {
    let mut body = json!({ "url": url, "event_types": ["*"], "description": "test receiver" });
    for (k, v) in extra.as_object().into_iter().flatten() {
        body[k] = v.clone();
    }
    let made = app.post("/api/v1/hooks/subscriptions", &app.admin, body).await.expect(201);
    let secret = made["secret"].as_str().unwrap().to_owned();
    (made["subscription"].clone(), secret)
}

async fn deliveries(app: &TestApp, sub: &Value) -> Vec<Value> {
    app.walk(&format!("/api/v1/hooks/subscriptions/{}/deliveries", sub["id"].as_str().unwrap())).await
}

on_both_databases!(
    a_subscriber_that_fails_three_times_then_recovers_gets_every_event_once_in_order,
    delivery_ids_and_waiting_events_survive_a_restart,
);

async fn delivery_ids_and_waiting_events_survive_a_restart(db: Db) {
    let clock = Arc::new(ManualClock::new(START.parse().unwrap()));
    let settings = keyed_settings(db, |_| {});
    let first = TestApp::spawn_manual(settings.clone(), clock.clone()).await;
    let org = first.org("Soylent").await;
    let secret = register(&first, json!({ "name": "zendesk", "default_org_id": org["id"] })).await["secret"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut rx = receiver(0, 200);
    subscribe(&first, &rx.url, json!({ "event_types": ["ticket.created"] })).await;
    let created =
        json!({ "type": "ticket.created", "data": { "ticket": { "external_id": "ZD-1", "title": "Green" } } });
    let ts = now_of(&first);
    let ack = send(&first, "zendesk", &secret, "once", ts, &created).await.expect(200);
    assert_eq!(ack["duplicate"], false);
    // The first instance stops before it sends anything out.
    let counts = first.counts().await;
    drop(first);

    // Another instance on the same database knows the delivery id, and sends the event
    // the first one left in the outbox.
    let second = TestApp::spawn_manual(settings, clock.clone()).await;
    let again = send(&second, "zendesk", &secret, "once", ts, &created).await.expect(200);
    assert_eq!((again["duplicate"].as_bool(), again["ticket_id"].clone()), (Some(true), ack["ticket_id"].clone()));
    assert_eq!(second.counts().await, counts);
    second.state.hooks.sender.run_until_idle().await.unwrap();
    let got = rx.accepted.try_recv().unwrap();
    assert_eq!(got.body["data"]["ticket"]["id"], ack["ticket_id"]);
    assert_eq!(got.body["data"]["origin"], "zendesk");
    assert!(rx.accepted.try_recv().is_err());
}

async fn a_subscriber_that_fails_three_times_then_recovers_gets_every_event_once_in_order(db: Db) {
    let (app, clock) = manual_desk(db, |_| {}).await;
    let sender = app.state.hooks.sender.clone();
    let mut rx = receiver(3, 200);
    let (sub, secret) = subscribe(&app, &rx.url, json!({})).await;
    assert_eq!(sub["event_types"], json!(["*"]));

    // Two tickets, each changed a few times.
    let org = app.org("Umbrella").await;
    let mut tickets = Vec::new();
    for title in ["Reactor", "Elevator"] {
        let t = app.ticket(&app.admin, &org, title).await;
        let id = t["id"].as_str().unwrap().to_owned();
        app.patch(&format!("/api/v1/tickets/{id}"), &app.admin, json!({ "title": format!("{title}, urgent") }))
            .await
            .expect(200);
        app.post(&format!("/api/v1/tickets/{id}/transition"), &app.admin, json!({ "to": "in_progress" }))
            .await
            .expect(200);
        app.post(&format!("/api/v1/tickets/{id}/comments"), &app.admin, json!({ "body": "On it." })).await.expect(201);
        tickets.push(id);
    }

    // First pass: the head of each ticket fails (two of the three failures); the rest wait
    // behind it, and the failures are on record with their next attempt.
    sender.run_until_idle().await.unwrap();
    let recorded = deliveries(&app, &sub).await;
    assert_eq!(recorded.len(), 8, "{recorded:#?}");
    let tried: Vec<&Value> = recorded.iter().filter(|d| d["attempts"] == 1).collect();
    assert_eq!(tried.len(), 2, "only each ticket's first event was tried: {recorded:#?}");
    for d in &tried {
        assert_eq!((d["state"].as_str(), d["last_status"].as_u64()), (Some("pending"), Some(500)));
        assert!(d["last_error"].as_str().unwrap().starts_with("HTTP 500"), "{d:#}");
        assert!(d["next_attempt_at"].is_string());
        assert_eq!(d["event_type"], "ticket.created");
    }
    assert!(rx.accepted.try_recv().is_err());

    // Time passes; retries go out until everything is taken.
    for _ in 0..10 {
        clock.advance(TimeDelta::minutes(30));
        sender.run_until_idle().await.unwrap();
    }
    let (calls, accepted) = {
        let state = rx.state.lock().unwrap();
        (state.calls, state.accepted.clone())
    };
    assert_eq!(calls, 8 + 3, "every event once, plus the three refused attempts");
    assert_eq!(accepted.len(), 8);
    let mut ids: Vec<&str> = accepted.iter().map(|r| r.id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 8, "no delivery taken twice");
    for r in &accepted {
        assert!(verify(&secret, r), "signed with the subscription's secret: {r:?}");
    }
    for id in &tickets {
        let got: Vec<&Value> =
            accepted.iter().map(|r| &r.body).filter(|b| b["data"]["ticket"]["id"] == id.as_str()).collect();
        let events: Vec<&str> = got.iter().map(|b| b["data"]["event_id"].as_str().unwrap()).collect();
        let entries = timeline(&app, id).await;
        let expected: Vec<&str> = entries.iter().map(|e| e["id"].as_str().unwrap()).collect();
        assert_eq!(events, expected, "every event of the ticket, in its timeline's order");
        let types: Vec<&str> = got.iter().map(|b| b["type"].as_str().unwrap()).collect();
        assert_eq!(types, ["ticket.created", "ticket.updated", "ticket.updated", "ticket.commented"]);
        assert_eq!(got[3]["data"]["comment"]["body"], "On it.");
        assert_eq!(got[0]["data"]["change"]["kind"], "created");
        assert_eq!(got[0]["data"]["actor"]["name"], "token:test-admin");
    }
    let recorded = deliveries(&app, &sub).await;
    assert!(recorded.iter().all(|d| d["state"] == "delivered" && d["delivered_at"].is_string()), "{recorded:#?}");
    // The two first events were tried again until the subscriber recovered: 2 + 1 extra tries.
    let attempts: u64 = recorded.iter().map(|d| d["attempts"].as_u64().unwrap()).sum();
    assert_eq!(attempts, 8 + 3);
    assert_eq!(recorded.iter().filter(|d| d["attempts"].as_u64() > Some(1)).count(), 2);
    let shown =
        app.get(&format!("/api/v1/hooks/subscriptions/{}", sub["id"].as_str().unwrap()), &app.admin).await.expect(200);
    assert_eq!(shown["deliveries"], json!({ "pending": 0, "delivered": 8, "failed": 0 }));
    let one = app
        .get(&format!("/api/v1/hooks/deliveries/{}", recorded[0]["id"].as_str().unwrap()), &app.admin)
        .await
        .expect(200);
    assert_eq!(one["message"]["data"]["event_id"], recorded[0]["event_id"]);
    // Nothing is sent again, however often the sender runs.
    clock.advance(TimeDelta::hours(2));
    assert!(sender.run_until_idle().await.unwrap().is_idle());
    assert_eq!(rx.state.lock().unwrap().calls, 11);
    while rx.accepted.try_recv().is_ok() {}
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_subscriber_does_not_delay_a_healthy_one() {
    // A subscriber that takes connections and never answers, with a long timeout.
    let (app, _clock) = manual_desk(Db::Sqlite, |s| s.webhook_timeout = Duration::from_secs(120)).await;
    let dead = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let dead_url = format!("http://{}/hooks", dead.local_addr().unwrap());
    let held = Arc::new(Mutex::new(Vec::new()));
    let holder = held.clone();
    tokio::spawn(async move {
        while let Ok((socket, _)) = dead.accept().await {
            holder.lock().unwrap().push(socket);
        }
    });
    let mut healthy = receiver(0, 200);
    let (dead_sub, _) = subscribe(&app, &dead_url, json!({})).await;
    let (healthy_sub, _) = subscribe(&app, &healthy.url, json!({ "event_types": ["ticket.created"] })).await;
    let sender = app.state.hooks.sender.clone();

    let org = app.org("Cyberdyne").await;
    for title in ["First", "Second", "Third"] {
        app.ticket(&app.admin, &org, title).await;
        sender.run_once().await.unwrap();
        // The healthy subscriber gets it while the dead one still holds its requests.
        let got = tokio::time::timeout(Duration::from_secs(20), healthy.accepted.recv()).await.unwrap().unwrap();
        assert_eq!(got.body["data"]["ticket"]["title"], title);
    }
    let stuck = deliveries(&app, &dead_sub).await;
    assert_eq!(stuck.len(), 3);
    assert!(stuck.iter().all(|d| d["state"] == "pending" && d["attempts"] == 1), "in flight: {stuck:#?}");
    assert!(!held.lock().unwrap().is_empty());
    // The desk answers as ever meanwhile.
    app.ticket(&app.admin, &org, "Fourth").await;
    let _ = healthy_sub;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_source_does_not_hear_its_own_changes_and_a_gone_subscriber_is_turned_off() {
    let (app, _clock) = manual_desk(Db::Sqlite, |_| {}).await;
    let org = app.org("Hooli").await;
    let secret = register(&app, json!({ "name": "zendesk", "default_org_id": org["id"] })).await["secret"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut echo = receiver(0, 200);
    let (echo_sub, echo_secret) = subscribe(&app, &echo.url, json!({ "skip_source": "zendesk" })).await;
    let gone = receiver(0, 410);
    let (gone_sub, _) = subscribe(&app, &gone.url, json!({ "event_types": ["ticket.commented"] })).await;
    let sender = app.state.hooks.sender.clone();

    let created =
        json!({ "type": "ticket.created", "data": { "ticket": { "external_id": "ZD-5", "title": "From Zendesk" } } });
    let id = send(&app, "zendesk", &secret, "z1", now_of(&app), &created).await.expect(200)["ticket_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut reply = json!({ "type": "ticket.commented", "data": { "ticket": { "external_id": "ZD-5" } } });
    reply["data"]["comment"] =
        json!({ "external_id": "zc-1", "body": "Customer says hi", "author": { "kind": "customer" } });
    send(&app, "zendesk", &secret, "z2", now_of(&app), &reply).await.expect(200);
    app.post(&format!("/api/v1/tickets/{id}/comments"), &app.admin, json!({ "body": "Desk says hi" }))
        .await
        .expect(201);
    sender.run_until_idle().await.unwrap();

    // Only the desk's own comment goes back to Zendesk's subscription, with its link.
    let got = echo.accepted.try_recv().unwrap();
    assert!(echo.accepted.try_recv().is_err(), "the source's own changes are not echoed");
    assert!(verify(&echo_secret, &got));
    assert_eq!(got.body["type"], "ticket.commented");
    assert_eq!(got.body["data"]["comment"]["body"], "Desk says hi");
    assert_eq!(got.body["data"]["origin"], Value::Null);
    assert_eq!(got.body["data"]["ticket"]["external_refs"][0]["external_id"], "ZD-5");
    assert_eq!(deliveries(&app, &echo_sub).await.len(), 1);

    // 410 Gone: given up at once, and the subscription is off with the reason; what came
    // after waits for it to be turned on again.
    let recorded = deliveries(&app, &gone_sub).await;
    assert_eq!(recorded.len(), 2, "{recorded:#?}");
    assert_eq!((recorded[1]["state"].as_str(), recorded[1]["last_status"].as_u64()), (Some("failed"), Some(410)));
    assert_eq!((recorded[0]["state"].as_str(), recorded[0]["attempts"].as_u64()), (Some("pending"), Some(0)));
    assert_eq!(gone.state.lock().unwrap().calls, 1);
    let off = app
        .get(&format!("/api/v1/hooks/subscriptions/{}", gone_sub["id"].as_str().unwrap()), &app.admin)
        .await
        .expect(200);
    assert_eq!(off["enabled"], false);
    assert!(off["disabled_reason"].as_str().unwrap().contains("410"));
    // A failed delivery can be retried; a delivered one cannot.
    let retried = app
        .post(&format!("/api/v1/hooks/deliveries/{}/retry", recorded[1]["id"].as_str().unwrap()), &app.admin, json!({}))
        .await
        .expect(200);
    assert_eq!((retried["state"].as_str(), retried["attempts"].as_u64()), (Some("pending"), Some(0)));
    let delivered = deliveries(&app, &echo_sub).await;
    app.post(
        &format!("/api/v1/hooks/deliveries/{}/retry", delivered[0]["id"].as_str().unwrap()),
        &app.admin,
        json!({}),
    )
    .await
    .expect_problem(409, "webhook_delivery_not_failed");

    // The event types are documented and listed.
    let types = app.get("/api/v1/hooks/event-types", &app.admin).await.expect(200);
    let names: Vec<&str> = types["items"].as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap()).collect();
    for expected in [
        "ticket.created",
        "ticket.updated",
        "ticket.escalated",
        "emergency.declared",
        "sla.warning",
        "sla.breached",
        "member.invited",
    ] {
        assert!(names.contains(&expected), "{expected} missing from {names:?}");
    }
    let doc = app.call(Method::GET, "/api/v1/openapi.json", None, None).await.expect(200);
    let documented = &doc["components"]["schemas"]["WebhookEventType"]["enum"];
    assert_eq!(documented.as_array().unwrap().len(), names.len());
    assert!(doc["components"]["schemas"]["WebhookMessage"].is_object());
    assert!(doc["components"]["schemas"]["HookDelivery"].is_object());
    app.post("/api/v1/hooks/subscriptions", &app.admin, json!({ "url": "ftp://x", "event_types": ["ticket.nope"] }))
        .await
        .expect_problem(422, "validation_failed");
}
