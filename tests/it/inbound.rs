//! The Lark webhook routes: Lark's documented vectors, and every way a delivery can be
//! wrong — each refused with a clear 4xx and nothing stored.

use std::sync::Arc;

use desk_store::{InboxSummary, ManualClock};
use lark_notify::events::{NONCE_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, encrypt, signature};
use serde_json::{Value, json};

use crate::support::lark::secret_key;
use crate::support::{Db, TestApp, settings_for};

const VECTORS: &str = include_str!("../../crates/lark-notify/tests/vectors/lark-vectors.json");
/// The vectors' app, token and key.
const APP_ID: &str = "cli_a1b2c3d4e5f60718";
const TOKEN: &str = "vTokenFixture0000000000000000000";
const KEY: &str = "kX9mQ2vT7pL4wR8zN3cF6hJ1dS5gB0aY";

fn vector(id: &str) -> Value {
    let all: Value = serde_json::from_str(VECTORS).unwrap();
    all["vectors"].as_array().unwrap().iter().find(|v| v["id"] == id).cloned().unwrap()
}

/// A desk whose clock stands just after the vectors were made (so their events are
/// fresh), with integration `acme` holding the vectors' app, token and key.
async fn desk(tune: impl FnOnce(&mut desk_api::Settings)) -> (TestApp, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new("2025-01-01T00:00:30Z".parse().unwrap()));
    let mut settings = settings_for(Db::Sqlite);
    settings.secret_key = Some(secret_key());
    tune(&mut settings);
    let app = TestApp::spawn_manual(settings, clock.clone()).await;
    app.post(
        "/api/v1/integrations",
        &app.admin,
        json!({ "id": "acme", "name": "Acme", "base_url": "http://127.0.0.1:9", "app_id": APP_ID,
                "app_secret": "s", "verification_token": TOKEN, "encrypt_key": KEY, "mode": "webhook" }),
    )
    .await
    .expect(201);
    (app, clock)
}

/// POSTs `body` to `/lark/{integration}/events` with these headers.
async fn push(app: &TestApp, integration: &str, headers: &[(&str, &str)], body: &str) -> (u16, Value) {
    let mut req = app
        .client
        .post(format!("{}/lark/{integration}/events", app.base))
        .header("content-type", "application/json; charset=utf-8");
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let res = req.body(body.to_owned()).send().await.unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

/// An event body as Lark would push it for the vectors' app: encrypted with `key`,
/// signed with `sign_key`, carrying `token`.
fn sealed(plaintext: &Value, key: &str, sign_key: &str) -> (String, [(String, String); 3]) {
    let body = json!({ "encrypt": encrypt(key, [7; 16], plaintext.to_string().as_bytes()) }).to_string();
    let (ts, nonce) = ("1735689630".to_owned(), "n-1".to_owned());
    let sig = signature(&ts, &nonce, sign_key, body.as_bytes());
    (body, [(TIMESTAMP_HEADER.into(), ts), (NONCE_HEADER.into(), nonce), (SIGNATURE_HEADER.into(), sig)])
}

fn refs(h: &[(String, String); 3]) -> Vec<(&str, &str)> {
    h.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

fn event(event_id: &str, token: &str, app_id: &str) -> Value {
    json!({
        "schema": "2.0",
        "header": { "event_id": event_id, "token": token, "create_time": "1735689620000",
                    "event_type": "im.chat.member.user.added_v1", "tenant_key": "t", "app_id": app_id },
        "event": { "chat_id": "oc_unknown", "users": [] }
    })
}

async fn inbox(app: &TestApp) -> InboxSummary {
    app.state.store.inbox_summary("acme").await.unwrap()
}

#[tokio::test]
async fn lark_vectors_pass_through_the_webhook() {
    let (app, _clock) = desk(|_| {}).await;
    let v = vector("webhook_im_message_receive_v1_encrypted");
    let headers: Vec<(String, String)> = v["http"]["headers"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(k, _)| k.starts_with("X-"))
        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
        .collect();
    let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let body = v["http"]["body"].as_str().unwrap();
    assert_eq!(push(&app, "acme", &headers, body).await, (200, json!({ "msg": "success" })));
    assert_eq!(inbox(&app).await.pending, 1, "the decrypted event waits in the inbox");

    // The vector's own negative case: the same push with a zeroed signature.
    let mut tampered = headers.clone();
    tampered.retain(|(k, _)| *k != SIGNATURE_HEADER);
    let zeros = v["negative_case"]["X-Lark-Signature"].as_str().unwrap();
    tampered.push((SIGNATURE_HEADER, zeros));
    let (status, problem) = push(&app, "acme", &tampered, body).await;
    assert_eq!((status, problem["code"].as_str()), (401, Some("lark_signature_invalid")));

    let check = vector("webhook_url_verification_encrypted");
    let (status, answer) = push(&app, "acme", &[], check["http"]["body"].as_str().unwrap()).await;
    assert_eq!(status, 200);
    assert_eq!(answer, check["expected_response"]["json"], "the challenge is echoed in plaintext");
    assert_eq!(inbox(&app).await.pending, 1, "a URL check stores nothing");
}

/// One way a delivery can be wrong.
#[derive(Debug, Clone, Copy)]
enum Fault {
    TamperedSignature,
    MissingSignature,
    WrongToken,
    BadBase64,
    WrongKey,
    BadPadding,
    PlaintextWithAKey,
    AnotherApp,
    NotJson,
}

/// The delivery with `fault`: every part but the faulty one is right.
fn faulty(fault: Fault) -> (String, Vec<(String, String)>) {
    let good = event("e-1", TOKEN, APP_ID);
    let (body, headers) = sealed(&good, KEY, KEY);
    match fault {
        Fault::TamperedSignature => {
            let mut h = headers.to_vec();
            h[2].1 = h[2].1.chars().rev().collect();
            (body, h)
        }
        Fault::MissingSignature => (body, headers[..2].to_vec()),
        Fault::WrongToken => {
            let (b, h) = sealed(&event("e-1", "another-token", APP_ID), KEY, KEY);
            (b, h.to_vec())
        }
        Fault::AnotherApp => {
            let (b, h) = sealed(&event("e-1", TOKEN, "cli_0000000000000000"), KEY, KEY);
            (b, h.to_vec())
        }
        // Signed correctly, so only the decryption can fail.
        Fault::WrongKey => {
            let (b, h) = sealed(&good, "another key", KEY);
            (b, h.to_vec())
        }
        Fault::BadBase64 => resign(json!({ "encrypt": "not*base64!" }).to_string()),
        // Whole blocks, but not what AES-CBC with this key produced.
        Fault::BadPadding => resign(json!({ "encrypt": base64_of(&[9_u8; 48]) }).to_string()),
        Fault::PlaintextWithAKey => resign(good.to_string()),
        Fault::NotJson => resign("this is not json".to_owned()),
    }
}

/// Every fault, with the code and status it is refused with.
const FAULTS: &[(Fault, &str, u16)] = &[
    (Fault::TamperedSignature, "lark_signature_invalid", 401),
    (Fault::MissingSignature, "lark_signature_invalid", 401),
    (Fault::WrongToken, "lark_token_invalid", 401),
    (Fault::BadBase64, "lark_undecryptable", 400),
    (Fault::WrongKey, "lark_undecryptable", 400),
    (Fault::BadPadding, "lark_undecryptable", 400),
    (Fault::PlaintextWithAKey, "lark_encryption_mismatch", 400),
    (Fault::AnotherApp, "lark_wrong_app", 401),
    (Fault::NotJson, "lark_body_invalid", 400),
];

#[tokio::test]
async fn a_bad_delivery_is_refused_and_changes_nothing() {
    let (app, _clock) = desk(|_| {}).await;
    for &(fault, code, status) in FAULTS {
        let (body, headers) = faulty(fault);
        let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let (got, problem) = push(&app, "acme", &headers, &body).await;
        assert_eq!((got, problem["code"].as_str()), (status, Some(code)), "{fault:?}: {problem}");
        assert!(problem["detail"].as_str().is_some_and(|d| !d.is_empty()), "{fault:?}");
        assert_eq!(inbox(&app).await, InboxSummary::default(), "{fault:?}: nothing was stored");
    }
    // The same event, sealed properly, goes in: the refusals were about the deliveries.
    let (body, headers) = sealed(&event("e-1", TOKEN, APP_ID), KEY, KEY);
    assert_eq!(push(&app, "acme", &refs(&headers), &body).await.0, 200);
    assert_eq!(inbox(&app).await.pending, 1);
}

fn base64_of(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// `body` with a valid signature.
fn resign(body: String) -> (String, Vec<(String, String)>) {
    let (ts, nonce) = ("1735689630", "n-2");
    let sig = signature(ts, nonce, KEY, body.as_bytes());
    let headers = vec![
        (TIMESTAMP_HEADER.to_owned(), ts.to_owned()),
        (NONCE_HEADER.to_owned(), nonce.to_owned()),
        (SIGNATURE_HEADER.to_owned(), sig),
    ];
    (body, headers)
}

#[tokio::test]
async fn an_unknown_integration_is_404() {
    let (app, _clock) = desk(|_| {}).await;
    let (body, headers) = sealed(&event("e-1", TOKEN, APP_ID), KEY, KEY);
    let (status, problem) = push(&app, "nobody", &refs(&headers), &body).await;
    assert_eq!((status, problem["code"].as_str()), (404, Some("integration_not_found")));
}

#[tokio::test]
async fn a_stale_signed_timestamp_is_refused_only_when_configured() {
    // By default the header's age is not judged (Lark may keep it on redelivery).
    let (app, clock) = desk(|_| {}).await;
    clock.advance(chrono::TimeDelta::hours(2));
    let (body, headers) = sealed(&event("e-1", TOKEN, APP_ID), KEY, KEY);
    assert_eq!(push(&app, "acme", &refs(&headers), &body).await.0, 200);

    let (strict, clock) = desk(|s| s.lark_max_request_age = Some(std::time::Duration::from_secs(300))).await;
    assert_eq!(push(&strict, "acme", &refs(&headers), &body).await.0, 200, "30 s old is fine");
    clock.advance(chrono::TimeDelta::minutes(10));
    let (body, headers) = sealed(&event("e-2", TOKEN, APP_ID), KEY, KEY);
    let (status, problem) = push(&strict, "acme", &refs(&headers), &body).await;
    assert_eq!((status, problem["code"].as_str()), (401, Some("lark_request_stale")));
    assert_eq!(inbox(&strict).await.pending, 1, "only the fresh one was stored");
}

#[tokio::test]
async fn redeliveries_and_replays_are_acknowledged_and_not_stored_again() {
    let (app, clock) = desk(|_| {}).await;
    let (body, headers) = sealed(&event("e-1", TOKEN, APP_ID), KEY, KEY);
    for _ in 0..3 {
        assert_eq!(push(&app, "acme", &refs(&headers), &body).await, (200, json!({ "msg": "success" })));
    }
    assert_eq!(inbox(&app).await.pending, 1, "three deliveries, one event");

    // Eight days on, the id may be forgotten, but the event's own age gives a replay away.
    clock.advance(chrono::TimeDelta::days(8));
    app.state.inbound.run_once().await.unwrap();
    assert_eq!(app.state.inbound.purge().await.unwrap(), 1);
    assert_eq!(inbox(&app).await, InboxSummary::default());
    assert_eq!(push(&app, "acme", &refs(&headers), &body).await, (200, json!({ "msg": "success" })));
    assert_eq!(inbox(&app).await, InboxSummary::default(), "the replay was ignored");
}

#[tokio::test]
async fn unknown_event_types_are_acknowledged_and_counted() {
    let (app, _clock) = desk(|_| {}).await;
    let mut reaction = event("e-9", TOKEN, APP_ID);
    reaction["header"]["event_type"] = json!("im.message.reaction.created_v1");
    let (body, headers) = sealed(&reaction, KEY, KEY);
    assert_eq!(push(&app, "acme", &refs(&headers), &body).await, (200, json!({ "msg": "success" })));
    assert_eq!(app.state.inbound.run_once().await.unwrap(), 1);
    let inbox = inbox(&app).await;
    assert_eq!((inbox.pending, inbox.failed, inbox.done), (0, 0, 1), "handled, not failed");
    let metrics = app.client.get(format!("{}/metrics", app.base)).send().await.unwrap().text().await.unwrap();
    assert!(
        metrics.contains(r#"desk_lark_events_total{outcome="unknown",type="other"} 1"#),
        "{}",
        metrics.lines().filter(|l| l.contains("lark_events")).collect::<Vec<_>>().join("\n")
    );
}

#[tokio::test]
async fn a_plain_url_check_is_answered_and_its_token_checked() {
    let (app, _clock) = desk(|_| {}).await;
    app.post(
        "/api/v1/integrations",
        &app.admin,
        json!({ "id": "plain", "name": "Plain", "base_url": "http://127.0.0.1:9", "app_id": "cli_1111111111111111",
                "app_secret": "s", "verification_token": TOKEN, "mode": "webhook" }),
    )
    .await
    .expect(201);
    let check = json!({ "challenge": "c-123", "token": TOKEN, "type": "url_verification" }).to_string();
    assert_eq!(push(&app, "plain", &[], &check).await, (200, json!({ "challenge": "c-123" })));
    let forged = json!({ "challenge": "c-123", "token": "guess", "type": "url_verification" }).to_string();
    let (status, problem) = push(&app, "plain", &[], &forged).await;
    assert_eq!((status, problem["code"].as_str()), (401, Some("lark_token_invalid")));
}
