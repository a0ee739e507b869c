//! The `desk` binary itself: `migrate`, `token create`, and `serve` on a fresh directory.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;

use desk_store::SystemClock;

use crate::support::{Db, TestApp, desk_bin, settings_for};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_create_prints_a_working_token_once_and_stores_only_its_hash() {
    let settings = settings_for(Db::Sqlite);
    let url = settings.database_url.clone();
    let migrate = Command::new(desk_bin()).arg("migrate").env("DESK_DATABASE_URL", &url).output().unwrap();
    assert!(migrate.status.success(), "{}", String::from_utf8_lossy(&migrate.stderr));

    let out = Command::new(desk_bin())
        .args(["token", "create", "--role", "admin", "--name", "bootstrap"])
        .env("DESK_DATABASE_URL", &url)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let token = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    assert!(token.starts_with("ldk_") && token.len() > 40, "{token}");
    assert!(!String::from_utf8_lossy(&out.stderr).contains(&token), "the secret reached the log");

    let bad = Command::new(desk_bin())
        .args(["token", "create", "--role", "superuser", "--name", "x"])
        .env("DESK_DATABASE_URL", &url)
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("admin, tam, engineer"));

    let app = TestApp::spawn_with(settings, Arc::new(SystemClock)).await;
    let tokens = app.get("/api/v1/tokens", &token).await.expect(200);
    let names: Vec<&str> = tokens["items"].as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert!(names.contains(&"bootstrap"));

    // The database holds a hash, never the token.
    let path = url.trim_start_matches("sqlite://").split('?').next().unwrap().to_owned();
    let bytes = std::fs::read(&path).unwrap();
    let wal = std::fs::read(format!("{path}-wal")).unwrap_or_default();
    let needle = token.as_bytes();
    assert!(!bytes.windows(needle.len()).any(|w| w == needle) && !wal.windows(needle.len()).any(|w| w == needle));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_with_no_settings_creates_the_sqlite_database_and_answers() {
    let dir = std::env::temp_dir().join(format!("larkdesk-serve-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut child = Command::new(desk_bin())
        .arg("serve")
        .current_dir(&dir)
        // Only the port differs from the defaults, so parallel tests do not collide.
        .env("DESK_LISTEN", "127.0.0.1:0")
        .env_remove("DESK_DATABASE_URL")
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let port = tokio::task::spawn_blocking(move || {
        for line in BufReader::new(stderr).lines() {
            let line = line.unwrap();
            let Ok(event) = serde_json::from_str::<serde_json::Value>(&line) else { continue };
            if event["message"] == "serving" {
                return event["port"].as_u64().unwrap();
            }
        }
        panic!("desk serve exited without serving");
    })
    .await
    .unwrap();
    let ready = reqwest::get(format!("http://127.0.0.1:{port}/readyz")).await.unwrap();
    assert_eq!(ready.status().as_u16(), 200);
    assert!(dir.join("data/desk.db").exists());
    let journal: String = {
        let out = Command::new("sh").arg("-c").arg("ls data").current_dir(&dir).output().unwrap();
        String::from_utf8(out.stdout).unwrap()
    };
    assert!(journal.contains("desk.db-wal"), "SQLite should run in WAL mode: {journal}");
    child.kill().unwrap();
    child.wait().unwrap();
}
