//! Lark integrations: registered over REST, secrets sealed at rest and never returned,
//! credentials checked against lark-sim.

use std::sync::Arc;

use desk_store::SystemClock;
use lark_sim::SimConfig;
use reqwest::Method;
use secrecy::SecretString;
use serde_json::{Value, json};

use crate::on_both_databases;
use crate::support::lark::secret_key;
use crate::support::{Db, TestApp, settings_for};

async fn app_with_key(db: Db) -> (TestApp, String) {
    let mut settings = settings_for(db);
    settings.secret_key = Some(secret_key());
    let url = settings.database_url.clone();
    (TestApp::spawn_with(settings, Arc::new(SystemClock)).await, url)
}

/// Every string value anywhere in `body`.
fn strings(body: &Value) -> Vec<String> {
    match body {
        Value::String(s) => vec![s.clone()],
        Value::Array(items) => items.iter().flat_map(strings).collect(),
        Value::Object(map) => map.values().flat_map(strings).collect(),
        _ => vec![],
    }
}

on_both_databases!(an_integration_keeps_its_secrets_sealed_and_the_check_says_what_is_wrong);

async fn an_integration_keeps_its_secrets_sealed_and_the_check_says_what_is_wrong(db: Db) {
    let (app, url) = app_with_key(db).await;
    let sim = lark_sim::spawn(SimConfig::default()).await.unwrap();
    let org = app.org("Acme").await;
    let secrets = [sim.app_secret.as_str(), "vt-verification-123", "ek-encrypt-456"];
    let body = json!({
        "id": "acme", "org_id": org["id"], "name": "Acme's Lark", "base_url": sim.base_url,
        "app_id": sim.app_id, "app_secret": secrets[0], "verification_token": secrets[1],
        "encrypt_key": secrets[2], "mode": "webhook"
    });
    let created = app.post("/api/v1/integrations", &app.admin, body.clone()).await.expect(201);
    assert_eq!(created["id"], "acme");
    assert_eq!(created["has_encrypt_key"], true);
    assert!(created["events_url"].as_str().unwrap().ends_with("/lark/acme/events"));
    let listed = app.get("/api/v1/integrations", &app.admin).await.expect(200);
    let one = app.get("/api/v1/integrations/acme", &app.admin).await.expect(200);
    for shown in [&created, &listed, &one] {
        for s in strings(shown) {
            assert!(!secrets.iter().any(|secret| s.contains(secret)), "a secret came back: {s}");
        }
    }

    // The check fetches a token and the bot's identity from (simulated) Lark.
    let report = app.post("/api/v1/integrations/acme/check", &app.admin, json!({})).await.expect(200);
    assert_eq!(report["ok"], true, "{report:#}");
    assert_eq!(report["bot_open_id"], sim.bot_open_id());

    // A wrong secret is named as such, not passed through as a bare code.
    app.patch("/api/v1/integrations/acme", &app.admin, json!({ "app_secret": "not-the-secret" })).await.expect(200);
    let report = app.post("/api/v1/integrations/acme/check", &app.admin, json!({})).await.expect(200);
    assert_eq!(report["ok"], false);
    assert_eq!(report["credentials"]["ok"], false);
    assert_eq!(report["credentials"]["code"], 10014);
    assert!(report["credentials"]["problem"].as_str().unwrap().contains("App Secret"), "{report:#}");
    assert_eq!(report["bot"]["ok"], false);

    // An unreachable host is named too.
    app.patch(
        "/api/v1/integrations/acme",
        &app.admin,
        json!({ "base_url": "http://127.0.0.1:9", "app_secret": secrets[0] }),
    )
    .await
    .expect(200);
    let report = app.post("/api/v1/integrations/acme/check", &app.admin, json!({})).await.expect(200);
    assert!(
        report["credentials"]["problem"].as_str().unwrap().contains("cannot reach http://127.0.0.1:9"),
        "{report:#}"
    );

    // Conflicts and bad input change nothing.
    app.post("/api/v1/integrations", &app.admin, body.clone()).await.expect_problem(409, "integration_exists");
    let mut twin = body.clone();
    twin["id"] = json!("acme-two");
    app.post("/api/v1/integrations", &app.admin, twin).await.expect_problem(409, "app_id_taken");
    let p = app
        .patch("/api/v1/integrations/acme", &app.admin, json!({ "mode": "carrier-pigeon" }))
        .await
        .expect_problem(422, "validation_failed");
    assert_eq!(p["errors"][0]["field"], "mode");
    app.get("/api/v1/integrations/nope", &app.admin).await.expect_problem(404, "integration_not_found");
    assert_eq!(app.get("/api/v1/integrations", &app.admin).await.expect(200)["items"].as_array().unwrap().len(), 1);

    // Roles: a TAM may look and check, only an admin may register or change.
    let tam = app.staff("Tam", "tam").await;
    let tam_token = app.token_for(&tam).await;
    app.get("/api/v1/integrations/acme", &tam_token).await.expect(200);
    app.post("/api/v1/integrations", &tam_token, json!({ "app_id": "cli_0000000000000000", "app_secret": "x" }))
        .await
        .expect_problem(403, "forbidden");

    // At rest, nothing is in the clear.
    if db == Db::Sqlite {
        let path = url.trim_start_matches("sqlite://").split('?').next().unwrap().to_owned();
        let mut bytes = std::fs::read(&path).unwrap();
        bytes.extend(std::fs::read(format!("{path}-wal")).unwrap_or_default());
        for secret in secrets {
            assert!(!bytes.windows(secret.len()).any(|w| w == secret.as_bytes()), "{secret} stored in the clear");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_secret_key_no_secret_is_stored() {
    let app = TestApp::spawn(Db::Sqlite).await;
    let problem = app
        .post("/api/v1/integrations", &app.admin, json!({ "app_id": "cli_a1b2c3d4e5f60718", "app_secret": "s" }))
        .await
        .expect_problem(409, "secret_key_missing");
    assert!(problem["detail"].as_str().unwrap().contains("DESK_SECRET_KEY"));
    let listed = app.call(Method::GET, "/api/v1/integrations", Some(&app.admin), None).await.expect(200);
    assert_eq!(listed["items"], json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lark_settings_create_and_then_update_the_default_integration() {
    let sim = lark_sim::spawn(SimConfig::default()).await.unwrap();
    let mut settings = settings_for(Db::Sqlite);
    settings.secret_key = Some(secret_key());
    settings.lark_mode = desk_api::config::LarkMode::Webhook;
    settings.lark_base_url = sim.base_url.clone();
    settings.lark_app_id = Some(sim.app_id.clone());
    settings.lark_app_secret = Some(SecretString::from("wrong at first"));
    let app = TestApp::spawn_with(settings.clone(), Arc::new(SystemClock)).await;
    let default = app.get("/api/v1/integrations/default", &app.admin).await.expect(200);
    assert_eq!((default["mode"].as_str(), default["app_id"].as_str()), (Some("webhook"), Some(sim.app_id.as_str())));
    assert_eq!(app.post("/api/v1/integrations/default/check", &app.admin, json!({})).await.expect(200)["ok"], false);

    // The next start with the right secret updates the same integration.
    settings.lark_app_secret = Some(SecretString::from(sim.app_secret.clone()));
    settings.lark_monthly_budget = 5_000;
    let again = TestApp::spawn_with(settings, Arc::new(SystemClock)).await;
    let default = again.get("/api/v1/integrations/default", &again.admin).await.expect(200);
    assert_eq!(default["monthly_budget"], 5_000);
    assert_eq!(again.post("/api/v1/integrations/default/check", &again.admin, json!({})).await.expect(200)["ok"], true);
    assert_eq!(again.get("/api/v1/integrations", &again.admin).await.expect(200)["items"].as_array().unwrap().len(), 1);
}
