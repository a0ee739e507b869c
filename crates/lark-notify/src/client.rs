//! `LarkClient`: one per Lark app. See the crate docs for what it guarantees.

use std::fmt;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::{Duration, Instant};

use governor::{DefaultDirectRateLimiter, DefaultKeyedRateLimiter, Quota, RateLimiter};
use reqwest::{Method, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

mod oauth;

pub use oauth::{
    LOGIN_CODE_REJECTED, LOGIN_NO_ACCESS, LOGIN_PKCE_FAILED, LOGIN_REDIRECT_MISMATCH, LoginCode, LoginUser,
    UserAccessToken, authorize_url,
};

use crate::error::{LarkError, TOKEN_CODES};
use crate::token::TokenCache;
use crate::wire::{
    AddMembers, BotInfo, Chat, ChatLink, Content, CreateChat, LinkValidity, MembersPage, Message, ReceiveId,
    RemoveMembers, UpdateChat, User, UserIdMatch,
};

/// Which Lark: the two differ only in host (lark-spec.md §9.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Brand {
    /// International Lark.
    Lark,
    /// China Feishu.
    Feishu,
}

impl Brand {
    /// The Open API base URL.
    pub const fn base_url(self) -> &'static str {
        match self {
            Self::Lark => "https://open.larksuite.com",
            Self::Feishu => "https://open.feishu.cn",
        }
    }
}

/// How to reach one Lark app.
#[derive(Clone)]
pub struct ClientConfig {
    /// `https://open.larksuite.com`, `https://open.feishu.cn`, or lark-sim's URL.
    pub base_url: String,
    /// `cli_…`.
    pub app_id: String,
    /// The app secret.
    pub app_secret: SecretString,
    /// Per request, connection included.
    pub request_timeout: Duration,
    /// App-wide calls per second (Lark's tier 4 is 50/s).
    pub app_rate_per_sec: NonZeroU32,
    /// App-wide calls per minute (Lark's tier 4 is 1000/min, which binds long before 50/s
    /// does: 50/s would be 3000 a minute).
    pub app_rate_per_min: NonZeroU32,
    /// Messages per second to one user or chat (Lark allows 5).
    pub per_target_qps: NonZeroU32,
}

impl fmt::Debug for ClientConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientConfig")
            .field("base_url", &self.base_url)
            .field("app_id", &self.app_id)
            .field("app_secret", &"[redacted]")
            .field("request_timeout", &self.request_timeout)
            .finish_non_exhaustive()
    }
}

impl ClientConfig {
    /// Lark's published limits and a 10-second timeout.
    pub fn new(base_url: impl Into<String>, app_id: impl Into<String>, app_secret: SecretString) -> Self {
        Self {
            base_url: base_url.into(),
            app_id: app_id.into(),
            app_secret,
            request_timeout: Duration::from_secs(10),
            app_rate_per_sec: NonZeroU32::new(50).unwrap_or(NonZeroU32::MIN),
            app_rate_per_min: NonZeroU32::new(1000).unwrap_or(NonZeroU32::MIN),
            per_target_qps: NonZeroU32::new(5).unwrap_or(NonZeroU32::MIN),
        }
    }
}

/// One finished call, as reported to a [`CallObserver`].
#[derive(Debug, Clone)]
pub struct CallRecord {
    /// The API, e.g. `im.message.create`.
    pub route: &'static str,
    /// Whether Lark counts it against the free plan's monthly quota: a successful call to a
    /// billed API (lark-spec.md §8.3). Failed calls are never billed.
    pub billed: bool,
    /// Whether Lark answered code 0.
    pub ok: bool,
    /// Lark's code, when there was a Lark answer.
    pub code: Option<i64>,
    /// HTTP status, when there was an answer.
    pub status: Option<u16>,
    /// Time from sending to the answer.
    pub elapsed: Duration,
    /// What the call was for, as the caller said with [`with_purpose`].
    pub purpose: Option<&'static str>,
}

tokio::task_local! {
    static PURPOSE: &'static str;
}

/// Runs `f` with every Lark call inside it labelled `purpose` in its [`CallRecord`]
/// (a notification class, `group`, …): the ledger's "what was it for".
pub async fn with_purpose<F: Future>(purpose: &'static str, f: F) -> F::Output {
    PURPOSE.scope(purpose, f).await
}

/// Told about every call: the monthly ledger and metrics hang here.
pub trait CallObserver: Send + Sync + fmt::Debug {
    /// Called once per HTTP call to Lark, after the answer (or the failure).
    fn on_call(&self, record: &CallRecord);
}

/// A Lark API, and whether Lark bills calls to it on the free plan.
#[derive(Debug, Clone, Copy)]
struct Api {
    name: &'static str,
    billed: bool,
    method: HttpMethod,
    payload: Payload,
}

/// The HTTP method of an API (`reqwest::Method` is not `const`-constructible for all).
#[derive(Debug, Clone, Copy)]
enum HttpMethod {
    Get,
    Post,
    Put,
    Patch,
    Delete,
}

impl HttpMethod {
    fn to_method(self) -> Method {
        match self {
            Self::Get => Method::GET,
            Self::Post => Method::POST,
            Self::Put => Method::PUT,
            Self::Patch => Method::PATCH,
            Self::Delete => Method::DELETE,
        }
    }
}

const TOKEN: Api =
    Api { name: "auth.tenant_access_token", billed: false, method: HttpMethod::Post, payload: Payload::Data };
const SEND: Api = Api { name: "im.message.create", billed: true, method: HttpMethod::Post, payload: Payload::Data };
const REPLY: Api = Api { name: "im.message.reply", billed: true, method: HttpMethod::Post, payload: Payload::Data };
const PATCH_CARD: Api =
    Api { name: "im.message.patch", billed: true, method: HttpMethod::Patch, payload: Payload::Data };
const CREATE_CHAT: Api = Api { name: "im.chat.create", billed: true, method: HttpMethod::Post, payload: Payload::Data };
const GET_CHAT: Api = Api { name: "im.chat.get", billed: true, method: HttpMethod::Get, payload: Payload::Data };
const UPDATE_CHAT: Api = Api { name: "im.chat.update", billed: true, method: HttpMethod::Put, payload: Payload::Data };
const DISBAND_CHAT: Api =
    Api { name: "im.chat.delete", billed: true, method: HttpMethod::Delete, payload: Payload::Data };
const ADD_MEMBERS: Api =
    Api { name: "im.chat.members.create", billed: true, method: HttpMethod::Post, payload: Payload::Data };
const REMOVE_MEMBERS: Api =
    Api { name: "im.chat.members.delete", billed: true, method: HttpMethod::Delete, payload: Payload::Data };
const LIST_MEMBERS: Api =
    Api { name: "im.chat.members.get", billed: true, method: HttpMethod::Get, payload: Payload::Data };
const CHAT_LINK: Api = Api { name: "im.chat.link", billed: true, method: HttpMethod::Post, payload: Payload::Data };
const BATCH_GET_ID: Api =
    Api { name: "contact.user.batch_get_id", billed: false, method: HttpMethod::Post, payload: Payload::Data };
const GET_USER: Api = Api { name: "contact.user.get", billed: false, method: HttpMethod::Get, payload: Payload::Data };
const BOT_INFO: Api =
    Api { name: "bot.info", billed: true, method: HttpMethod::Get, payload: Payload::TopLevel("bot") };

/// `n` calls per second, evenly spaced with a 10 % margin. Lark counts calls in windows,
/// and a token bucket with a burst of `n` can put nearly `2n` calls into one window (a full
/// burst, then the refills); spacing them keeps every window within `n`, and the margin
/// absorbs network jitter between our clock and Lark's.
fn evenly(per_sec: NonZeroU32) -> Quota {
    let period = Duration::from_millis(1_100) / per_sec.get();
    Quota::with_period(period).map_or_else(|| Quota::per_second(per_sec), |q| q.allow_burst(NonZeroU32::MIN))
}

/// `per_min` calls in any minute: bursts of up to `burst` (the per-second rate), refilled so
/// that burst plus refills never pass `per_min` within one window.
fn per_minute(per_min: NonZeroU32, burst: NonZeroU32) -> Quota {
    let burst = burst.min(NonZeroU32::new(per_min.get() / 2).unwrap_or(NonZeroU32::MIN));
    let refills = per_min.get().saturating_sub(burst.get()).max(1);
    let period = Duration::from_secs(60) / refills;
    Quota::with_period(period).map_or_else(|| evenly(per_min), |q| q.allow_burst(burst))
}

/// Where the payload sits in a successful answer.
#[derive(Debug, Clone, Copy)]
enum Payload {
    /// Under `data` (almost every API).
    Data,
    /// At the top level under this key (`bot` for bot info).
    TopLevel(&'static str),
    /// The whole answer (the OAuth token endpoint puts its fields at the top level).
    Whole,
}

impl Payload {
    /// Decodes the payload out of a successful answer.
    fn decode<T: DeserializeOwned>(self, answer: Value) -> Result<T, LarkError> {
        let value = match self {
            Self::Data => answer.get("data").cloned().unwrap_or_else(|| json!({})),
            Self::TopLevel(key) => answer.get(key).cloned().unwrap_or(Value::Null),
            Self::Whole => answer,
        };
        serde_json::from_value(value).map_err(|e| LarkError::Decode { status: 200, detail: e.to_string() })
    }
}

/// A Lark Open API client for one app. Build it once and share it: the token cache and
/// the rate limiters only work if every caller goes through the same instance.
pub struct LarkClient {
    http: reqwest::Client,
    base_url: String,
    app_id: String,
    app_secret: SecretString,
    token: TokenCache,
    second_limiter: DefaultDirectRateLimiter,
    minute_limiter: DefaultDirectRateLimiter,
    target_limiter: DefaultKeyedRateLimiter<String>,
    observer: Option<Arc<dyn CallObserver>>,
}

impl fmt::Debug for LarkClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LarkClient")
            .field("base_url", &self.base_url)
            .field("app_id", &self.app_id)
            .finish_non_exhaustive()
    }
}

impl LarkClient {
    /// Builds a client. Fails only if the TLS backend cannot start.
    pub fn new(config: ClientConfig, observer: Option<Arc<dyn CallObserver>>) -> Result<Self, LarkError> {
        let http = reqwest::Client::builder()
            .timeout(config.request_timeout)
            .connect_timeout(config.request_timeout.min(Duration::from_secs(5)))
            .user_agent(concat!("larkdesk/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(LarkError::Transport)?;
        Ok(Self {
            http,
            base_url: config.base_url.trim_end_matches('/').to_owned(),
            app_id: config.app_id,
            app_secret: config.app_secret,
            token: TokenCache::default(),
            second_limiter: RateLimiter::direct(evenly(config.app_rate_per_sec)),
            minute_limiter: RateLimiter::direct(per_minute(config.app_rate_per_min, config.app_rate_per_sec)),
            target_limiter: RateLimiter::keyed(evenly(config.per_target_qps)),
            observer,
        })
    }

    /// The app this client speaks for.
    pub fn app_id(&self) -> &str {
        &self.app_id
    }

    /// Checks the credentials by fetching a tenant token (Lark does not bill token calls).
    pub async fn check_credentials(&self) -> Result<(), LarkError> {
        self.tenant_token().await.map(|_| ())
    }

    /// Sends a message. `uuid` (≤ 50 chars) makes Lark send it at most once per hour however
    /// often the call is repeated: derive it from our own row id.
    pub async fn send_message(&self, to: &ReceiveId, content: &Content, uuid: &str) -> Result<Message, LarkError> {
        let body = json!({
            "receive_id": to.id,
            "msg_type": content.msg_type(),
            "content": content.to_content_string(),
            "uuid": uuid,
        });
        let query = [("receive_id_type", to.kind.as_str())];
        self.call(SEND, "/open-apis/im/v1/messages", &query, Some(body), Some(&to.id)).await
    }

    /// Replies to a message (in its thread when `in_thread`).
    pub async fn reply_message(
        &self,
        message_id: &str,
        content: &Content,
        uuid: &str,
        in_thread: bool,
    ) -> Result<Message, LarkError> {
        let body = json!({
            "msg_type": content.msg_type(),
            "content": content.to_content_string(),
            "uuid": uuid,
            "reply_in_thread": in_thread,
        });
        let path = format!("/open-apis/im/v1/messages/{message_id}/reply");
        self.call(REPLY, &path, &[], Some(body), Some(message_id)).await
    }

    /// Replaces a shared card (`config.update_multi: true`) the bot sent within 14 days.
    pub async fn update_card(&self, message_id: &str, card: &Value) -> Result<(), LarkError> {
        let body = json!({ "content": card.to_string() });
        let path = format!("/open-apis/im/v1/messages/{message_id}");
        self.call::<Value>(PATCH_CARD, &path, &[], Some(body), Some(message_id)).await.map(|_| ())
    }

    /// Creates a group chat; the same `uuid` (and owner) creates at most one chat in 10 hours.
    pub async fn create_chat(&self, chat: &CreateChat, uuid: &str, bot_as_manager: bool) -> Result<Chat, LarkError> {
        let body = serde_json::to_value(chat).map_err(|e| LarkError::Decode { status: 0, detail: e.to_string() })?;
        let manager = if bot_as_manager { "true" } else { "false" };
        let query = [("user_id_type", "open_id"), ("set_bot_manager", manager), ("uuid", uuid)];
        self.call(CREATE_CHAT, "/open-apis/im/v1/chats", &query, Some(body), None).await
    }

    /// Reads a chat.
    pub async fn get_chat(&self, chat_id: &str) -> Result<Chat, LarkError> {
        let path = format!("/open-apis/im/v1/chats/{chat_id}");
        self.call(GET_CHAT, &path, &[("user_id_type", "open_id")], None, None).await
    }

    /// Changes a chat's name, description or owner.
    pub async fn update_chat(&self, chat_id: &str, update: &UpdateChat) -> Result<(), LarkError> {
        let body = serde_json::to_value(update).map_err(|e| LarkError::Decode { status: 0, detail: e.to_string() })?;
        let path = format!("/open-apis/im/v1/chats/{chat_id}");
        self.call::<Value>(UPDATE_CHAT, &path, &[("user_id_type", "open_id")], Some(body), None).await.map(|_| ())
    }

    /// Disbands a chat.
    pub async fn disband_chat(&self, chat_id: &str) -> Result<(), LarkError> {
        let path = format!("/open-apis/im/v1/chats/{chat_id}");
        self.call::<Value>(DISBAND_CHAT, &path, &[], None, None).await.map(|_| ())
    }

    /// Adds people (open_ids) to a chat, adding everyone usable and reporting the rest
    /// (`succeed_type=1`).
    pub async fn add_members(&self, chat_id: &str, open_ids: &[String]) -> Result<AddMembers, LarkError> {
        let path = format!("/open-apis/im/v1/chats/{chat_id}/members");
        let query = [("member_id_type", "open_id"), ("succeed_type", "1")];
        let body = json!({ "id_list": open_ids });
        self.call(ADD_MEMBERS, &path, &query, Some(body), None).await
    }

    /// Removes people (open_ids) from a chat.
    pub async fn remove_members(&self, chat_id: &str, open_ids: &[String]) -> Result<RemoveMembers, LarkError> {
        let path = format!("/open-apis/im/v1/chats/{chat_id}/members");
        let body = json!({ "id_list": open_ids });
        self.call(REMOVE_MEMBERS, &path, &[("member_id_type", "open_id")], Some(body), None).await
    }

    /// One page of a chat's members (`page_size` ≤ 100).
    pub async fn list_members(
        &self,
        chat_id: &str,
        page_token: Option<&str>,
        page_size: u32,
    ) -> Result<MembersPage, LarkError> {
        let path = format!("/open-apis/im/v1/chats/{chat_id}/members");
        let size = page_size.clamp(1, 100).to_string();
        let mut query = vec![("member_id_type", "open_id"), ("page_size", size.as_str())];
        if let Some(token) = page_token {
            query.push(("page_token", token));
        }
        self.call(LIST_MEMBERS, &path, &query, None, None).await
    }

    /// A share link for a chat.
    pub async fn chat_link(&self, chat_id: &str, validity: LinkValidity) -> Result<ChatLink, LarkError> {
        let path = format!("/open-apis/im/v1/chats/{chat_id}/link");
        let body = json!({ "validity_period": validity.as_str() });
        self.call(CHAT_LINK, &path, &[], Some(body), None).await
    }

    /// open_ids for e-mails and mobiles (≤ 50 of each); unmatched entries have no `user_id`.
    pub async fn batch_get_ids(&self, emails: &[String], mobiles: &[String]) -> Result<Vec<UserIdMatch>, LarkError> {
        #[derive(serde::Deserialize)]
        struct Data {
            #[serde(default)]
            user_list: Vec<UserIdMatch>,
        }
        let body = json!({ "emails": emails, "mobiles": mobiles, "include_resigned": false });
        let query = [("user_id_type", "open_id")];
        let data: Data =
            self.call(BATCH_GET_ID, "/open-apis/contact/v3/users/batch_get_id", &query, Some(body), None).await?;
        Ok(data.user_list)
    }

    /// A user's profile by open_id.
    pub async fn get_user(&self, open_id: &str) -> Result<User, LarkError> {
        #[derive(serde::Deserialize)]
        struct Data {
            user: User,
        }
        let path = format!("/open-apis/contact/v3/users/{open_id}");
        let data: Data = self.call(GET_USER, &path, &[("user_id_type", "open_id")], None, None).await?;
        Ok(data.user)
    }

    /// The bot's own identity. Lark bills it: call it when checking an integration, never
    /// from a health probe.
    pub async fn bot_info(&self) -> Result<BotInfo, LarkError> {
        self.call(BOT_INFO, "/open-apis/bot/v3/info", &[], None, None).await
    }

    /// The cached tenant token, fetched when missing or near expiry.
    async fn tenant_token(&self) -> Result<SecretString, LarkError> {
        self.token
            .get(|| async {
                let body = json!({ "app_id": self.app_id, "app_secret": self.app_secret.expose_secret() });
                let path = "/open-apis/auth/v3/tenant_access_token/internal";
                let answer = self.send(TOKEN, path, &[], Some(&body), None).await?;
                let token = answer.get("tenant_access_token").and_then(Value::as_str).ok_or_else(|| {
                    LarkError::Decode { status: 200, detail: "no tenant_access_token in the answer".into() }
                })?;
                let expire = answer.get("expire").and_then(Value::as_u64).unwrap_or(0);
                Ok((SecretString::from(token.to_owned()), Duration::from_secs(expire)))
            })
            .await
    }

    /// One API call: limiter, token, request, and one retry with a fresh token when Lark
    /// says the token is no good (it may have expired early or been revoked).
    async fn call<T: DeserializeOwned>(
        &self,
        api: Api,
        path: &str,
        query: &[(&str, &str)],
        body: Option<Value>,
        target: Option<&str>,
    ) -> Result<T, LarkError> {
        self.wait_for_turn(target).await;
        let token = self.tenant_token().await?;
        let answer = match self.send(api, path, query, body.as_ref(), Some(&token)).await {
            Err(e) if e.code().is_some_and(|c| TOKEN_CODES.contains(&c)) => {
                self.token.evict(&token).await;
                let token = self.tenant_token().await?;
                // The refused attempt was a call too: the retry queues like any other.
                self.wait_for_turn(target).await;
                self.send(api, path, query, body.as_ref(), Some(&token)).await?
            }
            other => other?,
        };
        api.payload.decode(answer)
    }

    /// Waits until the app-wide limits and the target's own limit allow one more call.
    async fn wait_for_turn(&self, target: Option<&str>) {
        self.second_limiter.until_ready().await;
        self.minute_limiter.until_ready().await;
        if let Some(target) = target {
            self.target_limiter.until_key_ready(&target.to_owned()).await;
        }
    }

    /// One HTTP request to `path`, read with [`read_envelope`]. `token` is the bearer, when
    /// the API takes one (the token endpoints do not).
    async fn send(
        &self,
        api: Api,
        path: &str,
        query: &[(&str, &str)],
        body: Option<&Value>,
        token: Option<&SecretString>,
    ) -> Result<Value, LarkError> {
        let mut request = self.http.request(api.method.to_method(), format!("{}{path}", self.base_url)).query(query);
        if let Some(token) = token {
            request = request.bearer_auth(token.expose_secret());
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let started = Instant::now();
        let sent = request.send().await;
        read_envelope(api, sent, started, self.observer.as_deref()).await
    }
}

/// Reads Lark's answer: the whole JSON body when `code` is 0, else a classified error.
/// Reports the call to the observer either way.
async fn read_envelope(
    api: Api,
    sent: Result<reqwest::Response, reqwest::Error>,
    started: Instant,
    observer: Option<&dyn CallObserver>,
) -> Result<Value, LarkError> {
    let report = |ok: bool, code: Option<i64>, status: Option<u16>| {
        if let Some(observer) = observer {
            observer.on_call(&CallRecord {
                route: api.name,
                billed: api.billed && ok,
                ok,
                code,
                status,
                elapsed: started.elapsed(),
                purpose: PURPOSE.try_with(|p| *p).ok(),
            });
        }
    };
    let response = match sent {
        Ok(r) => r,
        Err(e) => {
            report(false, None, None);
            return Err(if e.is_timeout() { LarkError::Timeout } else { LarkError::Transport(e) });
        }
    };
    let status = response.status();
    let header = |name: &str| response.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let log_id = header("x-tt-logid").or_else(|| header("x-request-id"));
    let retry_after = header("x-ogw-ratelimit-reset").and_then(|v| v.parse::<u64>().ok()).map(Duration::from_secs);
    let bytes = match response.bytes().await {
        Ok(b) => b,
        Err(e) => {
            report(false, None, Some(status.as_u16()));
            return Err(if e.is_timeout() { LarkError::Timeout } else { LarkError::Transport(e) });
        }
    };
    let Ok(body) = serde_json::from_slice::<Value>(&bytes) else {
        report(false, None, Some(status.as_u16()));
        return Err(if status.is_success() {
            LarkError::Decode { status: status.as_u16(), detail: "the body is not JSON".into() }
        } else {
            LarkError::Http { status: status.as_u16() }
        });
    };
    // Lark documents `code` as a number, yet some examples print it as a string.
    let code = match body.get("code") {
        Some(Value::Number(n)) => n.as_i64(),
        Some(Value::String(s)) => s.parse().ok(),
        _ => None,
    };
    match code {
        Some(0) => {
            report(true, Some(0), Some(status.as_u16()));
            Ok(body)
        }
        Some(code) => {
            report(false, Some(code), Some(status.as_u16()));
            // The OAuth endpoints say it as `error_description` (lark-spec.md §9.2).
            let msg = ["msg", "error_description"]
                .iter()
                .find_map(|k| body.get(*k).and_then(Value::as_str).filter(|m| !m.is_empty()))
                .unwrap_or_default()
                .to_owned();
            tracing::debug!(lark.api = api.name, lark.code = code, http.status = status.as_u16(), lark.log_id = ?log_id, "lark refused");
            Err(LarkError::from_code(status.as_u16(), code, msg, log_id, retry_after))
        }
        None if status == StatusCode::TOO_MANY_REQUESTS => {
            report(false, None, Some(status.as_u16()));
            Err(LarkError::RateLimited { code: 99991400, retry_after, log_id })
        }
        None => {
            report(false, None, Some(status.as_u16()));
            Err(if status.is_success() {
                LarkError::Decode { status: status.as_u16(), detail: "no code in the answer".into() }
            } else {
                LarkError::Http { status: status.as_u16() }
            })
        }
    }
}
