//! A simulator plus an HTTP client with the tenant token already fetched.

use lark_sim::{SimConfig, SimHandle, SimUser, SimUserInfo};
use reqwest::Method;
use reqwest::header::HeaderMap;
use serde_json::{Value, json};

pub const MESSAGES: &str = "/open-apis/im/v1/messages";
pub const CHATS: &str = "/open-apis/im/v1/chats";

/// What came back: status, headers and the body (JSON when it parses, else `Value::Null`).
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: HeaderMap,
    pub text: String,
    pub body: Value,
}

impl Resp {
    pub fn code(&self) -> i64 {
        self.body["code"].as_i64().unwrap_or_else(|| panic!("no code in {}", self.text))
    }

    pub fn data(&self) -> &Value {
        &self.body["data"]
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Asserts success and returns `data`.
    #[track_caller]
    pub fn ok(&self) -> &Value {
        assert_eq!((self.status, self.code()), (200, 0), "expected success, got {}", self.text);
        self.data()
    }

    /// Asserts a business error with this code.
    #[track_caller]
    pub fn assert_err(&self, status: u16, code: i64) {
        assert_eq!((self.status, self.code()), (status, code), "unexpected answer {}", self.text);
    }
}

pub fn users() -> Vec<SimUser> {
    vec![
        SimUser {
            name: "Alice".into(),
            email: Some("alice@example.com".into()),
            mobile: Some("+8613800000001".into()),
        },
        SimUser { name: "Bob".into(), email: Some("bob@example.com".into()), mobile: Some("+15550000002".into()) },
        SimUser::with_email("Carol", "carol@example.com"),
    ]
}

pub struct TestSim {
    pub sim: SimHandle,
    pub http: reqwest::Client,
    token: std::sync::Mutex<String>,
}

impl TestSim {
    pub async fn start() -> Self {
        Self::with(SimConfig { users: users(), ..SimConfig::default() }).await
    }

    pub async fn with(config: SimConfig) -> Self {
        let sim = lark_sim::spawn(config).await.expect("sim starts");
        let http = reqwest::Client::new();
        let this = Self { sim, http, token: std::sync::Mutex::default() };
        this.refresh_token().await;
        this
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.sim.base_url)
    }

    pub fn user(&self, name: &str) -> SimUserInfo {
        self.sim.users().into_iter().find(|u| u.name == name).expect("known user")
    }

    /// The token `call` and friends use.
    pub fn token(&self) -> String {
        self.token.lock().unwrap().clone()
    }

    /// Fetches the current tenant token and uses it from now on (after moving the clock a lot).
    pub async fn refresh_token(&self) -> String {
        let token = self.fetch_token().await;
        *self.token.lock().unwrap() = token.clone();
        token
    }

    pub async fn fetch_token(&self) -> String {
        let body = json!({"app_id": self.sim.app_id, "app_secret": self.sim.app_secret});
        let resp = self.raw(Method::POST, "/open-apis/auth/v3/tenant_access_token/internal", None, Some(body)).await;
        assert_eq!(resp.code(), 0, "{}", resp.text);
        resp.body["tenant_access_token"].as_str().expect("token").to_owned()
    }

    /// A request with an explicit token (or none).
    pub async fn raw(&self, method: Method, path: &str, token: Option<&str>, body: Option<Value>) -> Resp {
        let mut req = self.http.request(method, self.url(path));
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        if let Some(body) = body {
            req = req.json(&body);
        }
        let resp = req.send().await.expect("request reaches the sim");
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let text = resp.text().await.expect("body");
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Resp { status, headers, text, body }
    }

    pub async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Resp {
        self.raw(method, path, Some(&self.token()), body).await
    }

    pub async fn get(&self, path: &str) -> Resp {
        self.call(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Resp {
        self.call(Method::POST, path, Some(body)).await
    }

    /// A side route (`/_sim/...`), which answers plain JSON.
    pub async fn side(&self, path: &str, body: Value) -> Value {
        let resp = self.raw(Method::POST, path, None, Some(body)).await;
        assert_eq!(resp.status, 200, "{path}: {}", resp.text);
        resp.body
    }

    pub async fn state(&self) -> Value {
        self.raw(Method::GET, "/_sim/state", None, None).await.body
    }

    pub async fn send(&self, id_type: &str, receive_id: &str, msg_type: &str, content: &str) -> Resp {
        let body = json!({"receive_id": receive_id, "msg_type": msg_type, "content": content});
        self.post(&format!("{MESSAGES}?receive_id_type={id_type}"), body).await
    }

    pub async fn send_text(&self, id_type: &str, receive_id: &str, text: &str) -> Resp {
        self.send(id_type, receive_id, "text", &json!({"text": text}).to_string()).await
    }

    /// Creates a chat with these users (open_ids) and returns its id.
    pub async fn create_chat(&self, name: &str, open_ids: &[&str]) -> String {
        let resp = self.post(CHATS, json!({"name": name, "user_id_list": open_ids})).await;
        resp.ok()["chat_id"].as_str().expect("chat_id").to_owned()
    }
}

/// A shared 2.0 card whose markdown holds `text`.
pub fn card(text: &str) -> String {
    json!({
        "schema": "2.0",
        "config": {"update_multi": true},
        "header": {"title": {"tag": "plain_text", "content": "T-1001"}},
        "body": {"elements": [{"tag": "markdown", "content": text}]}
    })
    .to_string()
}
