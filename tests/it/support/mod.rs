//! The test harness: the real server on a random port, on a fresh SQLite file or a fresh
//! PostgreSQL schema, with an admin token and typed request helpers.

use std::sync::Arc;

use desk_api::{Application, Settings};
use desk_store::{Clock, NewToken, SystemClock};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

pub mod lark;

/// Which database a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Db {
    Sqlite,
    Postgres,
}

/// Generates `name::sqlite` and `name::postgres` tests from `async fn name(db: Db)`.
#[macro_export]
macro_rules! on_both_databases {
    ($($name:ident),+ $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name($crate::support::Db::Sqlite).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::$name($crate::support::Db::Postgres).await;
            }
        }
    )+};
}

/// The built `desk` binary: `DESK_BIN`, or beside the test binary's directory
/// (`cargo build --bin desk`).
pub fn desk_bin() -> std::path::PathBuf {
    if let Ok(path) = std::env::var("DESK_BIN") {
        return path.into();
    }
    let exe = std::env::current_exe().unwrap();
    let candidate = exe.parent().unwrap().parent().unwrap().join("desk");
    assert!(candidate.exists(), "build the desk binary first (cargo build --bin desk) or set DESK_BIN");
    candidate
}

/// The PostgreSQL database tests create their schemas in.
pub fn pg_url() -> String {
    std::env::var("DESK_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/larkdesk_test".to_owned())
}

/// Settings for a fresh, isolated database of the given kind.
pub fn settings_for(db: Db) -> Settings {
    let mut settings = Settings::defaults().expect("defaults load");
    settings.listen = "127.0.0.1:0".into();
    settings.log_format = desk_api::config::LogFormat::Pretty;
    let id = uuid::Uuid::new_v4().simple().to_string();
    match db {
        Db::Sqlite => {
            let dir = std::env::temp_dir().join("larkdesk-tests");
            std::fs::create_dir_all(&dir).expect("temp dir");
            settings.database_url = format!("sqlite://{}/{id}.db?mode=rwc", dir.display());
        }
        Db::Postgres => {
            settings.database_url = pg_url();
            settings.database_schema = Some(format!("t_{id}"));
        }
    }
    settings
}

/// A running server and a client for it.
pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    /// An admin token, created the way `desk token create` does.
    pub admin: String,
    /// The server's shared state (its store, clock and dispatcher).
    pub state: desk_api::state::AppState,
}

/// A response: status, headers and the JSON body (Null if none).
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub content_type: String,
    pub body: Value,
}

impl Reply {
    /// Asserts the status, showing the body when it is wrong.
    #[track_caller]
    pub fn expect(self, status: u16) -> Value {
        assert_eq!(self.status.as_u16(), status, "unexpected status; body: {:#}", self.body);
        self.body
    }

    /// Asserts a problem+json error with this status and code.
    #[track_caller]
    pub fn expect_problem(self, status: u16, code: &str) -> Value {
        assert_eq!(self.status.as_u16(), status, "unexpected status; body: {:#}", self.body);
        assert_eq!(self.content_type, "application/problem+json", "body: {:#}", self.body);
        assert_eq!(self.body["code"], code, "body: {:#}", self.body);
        assert_eq!(self.body["status"], status);
        assert!(self.body["detail"].as_str().is_some_and(|d| !d.is_empty()));
        self.body
    }
}

impl TestApp {
    pub async fn spawn(db: Db) -> Self {
        Self::spawn_with(settings_for(db), Arc::new(SystemClock)).await
    }

    pub async fn spawn_with(settings: Settings, clock: Arc<dyn Clock>) -> Self {
        let app = Application::build_with_clock(settings, clock.clone()).await.expect("server builds");
        Self::start(app, clock).await
    }

    /// As [`TestApp::spawn_with`], without the background dispatcher: the test drives
    /// `state.dispatcher.run_once()` itself, with time from `clock`.
    pub async fn spawn_manual(settings: Settings, clock: Arc<dyn Clock>) -> Self {
        let app = Application::build_with_clock(settings, clock.clone()).await.expect("server builds");
        Self::start(app.without_workers(), clock).await
    }

    async fn start(app: Application, clock: Arc<dyn Clock>) -> Self {
        let base = format!("http://127.0.0.1:{}", app.port());
        let admin = app
            .state()
            .store
            .create_token(
                NewToken { name: "test-admin".into(), role: Some(desk_core::Role::Admin), person_id: None },
                clock.now(),
            )
            .await
            .expect("admin token")
            .secret;
        let state = app.state().clone();
        tokio::spawn(app.run_until_stopped());
        Self { base, client: reqwest::Client::new(), admin, state }
    }

    /// Sends a request with an optional token and JSON body.
    pub async fn call(&self, method: Method, path: &str, token: Option<&str>, body: Option<Value>) -> Reply {
        let mut req = self.client.request(method, format!("{}{path}", self.base));
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        if let Some(body) = body {
            req = req.json(&body);
        }
        Self::reply(req.send().await.expect("request sent")).await
    }

    /// Sends raw bytes with a content type.
    pub async fn call_raw(&self, method: Method, path: &str, token: &str, content_type: &str, body: Vec<u8>) -> Reply {
        let req = self
            .client
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(token)
            .header("content-type", content_type)
            .body(body);
        Self::reply(req.send().await.expect("request sent")).await
    }

    /// Reads a response into a [`Reply`] (for requests built by hand on `client`).
    pub async fn reply(res: reqwest::Response) -> Reply {
        let status = res.status();
        let content_type =
            res.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
        let text = res.text().await.expect("body read");
        let body =
            if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap_or(Value::String(text)) };
        Reply { status, content_type, body }
    }

    pub async fn get(&self, path: &str, token: &str) -> Reply {
        self.call(Method::GET, path, Some(token), None).await
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> Reply {
        self.call(Method::POST, path, Some(token), Some(body)).await
    }

    pub async fn patch(&self, path: &str, token: &str, body: Value) -> Reply {
        self.call(Method::PATCH, path, Some(token), Some(body)).await
    }

    pub async fn put(&self, path: &str, token: &str, body: Value) -> Reply {
        self.call(Method::PUT, path, Some(token), Some(body)).await
    }

    // ---- builders for the common fixtures -------------------------------------------

    pub async fn org(&self, name: &str) -> Value {
        self.post("/api/v1/orgs", &self.admin, json!({ "name": name, "support_plan": "premium" })).await.expect(201)
    }

    pub async fn staff(&self, name: &str, role: &str) -> Value {
        self.post("/api/v1/people", &self.admin, json!({ "kind": "staff", "role": role, "name": name }))
            .await
            .expect(201)
    }

    pub async fn customer(&self, org: &Value, name: &str) -> Value {
        self.post("/api/v1/people", &self.admin, json!({ "kind": "customer", "org_id": org["id"], "name": name }))
            .await
            .expect(201)
    }

    /// A token acting as `person`.
    pub async fn token_for(&self, person: &Value) -> String {
        let body = self
            .post(
                "/api/v1/tokens",
                &self.admin,
                json!({ "name": format!("{} laptop", person["name"].as_str().unwrap()), "person_id": person["id"] }),
            )
            .await
            .expect(201);
        body["token"].as_str().unwrap().to_owned()
    }

    pub async fn ticket(&self, token: &str, org: &Value, title: &str) -> Value {
        self.post("/api/v1/tickets", token, json!({ "org_id": org["id"], "title": title })).await.expect(201)
    }

    /// Row counts of the main tables, to prove a refused request wrote nothing.
    pub async fn counts(&self) -> Value {
        let orgs = self.walk("/api/v1/orgs?limit=200").await.len();
        let people = self.walk("/api/v1/people?limit=200").await.len();
        let tickets = self.walk("/api/v1/tickets?limit=200").await.len();
        json!({ "orgs": orgs, "people": people, "tickets": tickets })
    }

    /// Follows `next_cursor` to the end and returns every item.
    pub async fn walk(&self, first: &str) -> Vec<Value> {
        let mut items = Vec::new();
        let mut path = first.to_owned();
        loop {
            let page = self.get(&path, &self.admin).await.expect(200);
            items.extend(page["items"].as_array().unwrap().iter().cloned());
            match page["next_cursor"].as_str() {
                Some(c) => {
                    let sep = if first.contains('?') { '&' } else { '?' };
                    path = format!("{first}{sep}cursor={c}");
                }
                None => return items,
            }
        }
    }
}
