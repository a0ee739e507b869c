//! Endpoint discovery (lark-spec.md §7.2): a POST with the app's credentials that answers
//! a one-time WebSocket URL and the connection settings (`ClientConfig`).

use std::time::Duration;

use secrecy::ExposeSecret as _;
use serde::Deserialize;

use super::LongConnConfig;
use super::error::ConnError;

/// Discovery codes that mean "try again later": `1` system busy, `1000040343` internal
/// error. Go and Python retry both; Node gives up on `1`, which would leave a desk offline
/// over a transient hiccup, so we follow Go.
const RETRYABLE_CODES: &[i64] = &[1, 1000040343];

/// The smallest ping interval we honour. A zero would be a busy loop (and panics
/// `tokio::time::interval`); tests set 0 or 1 s, Lark 120 s.
const MIN_PING_INTERVAL: Duration = Duration::from_secs(1);

/// The connection settings, defaulted as every official SDK does and overwritten by what
/// the server says (in the discovery answer and in every pong).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Settings {
    /// Reconnect attempts after a loss; `None` = unlimited (`ReconnectCount < 0`).
    pub(crate) reconnect_count: Option<u64>,
    /// Between two reconnect attempts.
    pub(crate) reconnect_interval: Duration,
    /// Upper bound of the random wait before the first reconnect attempt, so that a fleet of
    /// clients dropped at once does not come back at once.
    pub(crate) reconnect_nonce: Duration,
    /// Between two pings.
    pub(crate) ping_interval: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            reconnect_count: None,
            reconnect_interval: Duration::from_secs(120),
            reconnect_nonce: Duration::from_secs(30),
            ping_interval: Duration::from_secs(120),
        }
    }
}

/// `ClientConfig` as the server sends it: seconds, every field optional.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ServerConfig {
    reconnect_count: Option<i64>,
    reconnect_interval: Option<i64>,
    reconnect_nonce: Option<i64>,
    ping_interval: Option<i64>,
}

impl Settings {
    /// Overwrites the fields the server sent. Negative durations are ignored rather than
    /// clamped to zero: they are nonsense, not a request to hammer the server.
    pub(crate) fn apply(&mut self, config: &ServerConfig) {
        fn secs(v: Option<i64>) -> Option<Duration> {
            v.and_then(|s| u64::try_from(s).ok()).map(Duration::from_secs)
        }
        if let Some(count) = config.reconnect_count {
            self.reconnect_count = u64::try_from(count).ok();
        }
        if let Some(d) = secs(config.reconnect_interval) {
            self.reconnect_interval = d;
        }
        if let Some(d) = secs(config.reconnect_nonce) {
            self.reconnect_nonce = d;
        }
        if let Some(d) = secs(config.ping_interval) {
            self.ping_interval = d.max(MIN_PING_INTERVAL);
        }
    }
}

/// Where to dial, as discovery answered.
pub(crate) struct Endpoint {
    /// The full URL, query and all. Its `ticket`/`access_key` are credentials: never log
    /// it, log [`Endpoint::redacted`].
    pub(crate) url: String,
    /// `device_id` from the query: the connection's id in logs and in the status.
    pub(crate) device_id: Option<String>,
    /// `service_id` from the query, put into every frame's `service`. `0` when missing or
    /// not a number, as the Go SDK's `strconv.Atoi` leaves it.
    pub(crate) service_id: i32,
    /// The server's settings for this connection.
    pub(crate) config: ServerConfig,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint")
            .field("url", &self.redacted())
            .field("device_id", &self.device_id)
            .field("service_id", &self.service_id)
            .finish_non_exhaustive()
    }
}

impl Endpoint {
    /// Parses the URL's query; the other parameters are opaque and go back untouched.
    pub(crate) fn new(url: String, config: ServerConfig) -> Result<Self, ConnError> {
        let parsed = reqwest::Url::parse(&url).map_err(|_| ConnError::DiscoveryDecode("URL does not parse"))?;
        if !matches!(parsed.scheme(), "ws" | "wss") {
            return Err(ConnError::DiscoveryDecode("URL is not ws:// or wss://"));
        }
        let query = |key: &str| parsed.query_pairs().find(|(k, _)| k == key).map(|(_, v)| v.into_owned());
        let device_id = query("device_id");
        let service_id = query("service_id").and_then(|s| s.parse().ok()).unwrap_or(0);
        Ok(Self { url, device_id, service_id, config })
    }

    /// Scheme, host, port and path only: safe to log.
    pub(crate) fn redacted(&self) -> String {
        redact(&self.url)
    }
}

/// A URL without its query and fragment (where Lark puts the connection's credentials).
pub(crate) fn redact(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(u) => {
            let port = u.port().map(|p| format!(":{p}")).unwrap_or_default();
            format!("{}://{}{port}{}", u.scheme(), u.host_str().unwrap_or_default(), u.path())
        }
        Err(_) => "<unparsable url>".to_owned(),
    }
}

#[derive(Debug, Deserialize)]
struct Answer {
    code: i64,
    #[serde(default)]
    msg: String,
    data: Option<AnswerData>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct AnswerData {
    #[serde(rename = "URL")]
    url: String,
    #[serde(default)]
    client_config: Option<ServerConfig>,
}

/// Asks Lark where to connect. Every connect attempt calls this afresh: the URL's ticket is
/// single-use and short-lived.
#[tracing::instrument(name = "lark.ws.discover", skip_all)]
pub(crate) async fn discover(http: &reqwest::Client, config: &LongConnConfig) -> Result<Endpoint, ConnError> {
    let url = format!("{}/callback/ws/endpoint", config.base_url.trim_end_matches('/'));
    let body = serde_json::json!({ "AppID": config.app_id, "AppSecret": config.app_secret.expose_secret() });
    let response = http
        .post(&url)
        .timeout(config.request_timeout)
        // The SDKs send it; Lark picks the language of `msg` from it.
        .header("locale", "zh")
        .json(&body)
        .send()
        .await
        .map_err(|e| if e.is_timeout() { ConnError::Timeout("endpoint discovery") } else { ConnError::Discovery(e) })?;
    let status = response.status();
    if status != reqwest::StatusCode::OK {
        return Err(ConnError::DiscoveryHttp { status: status.as_u16() });
    }
    let bytes = response.bytes().await.map_err(ConnError::Discovery)?;
    let answer: Answer =
        serde_json::from_slice(&bytes).map_err(|_| ConnError::DiscoveryDecode("body is not the documented JSON"))?;
    match answer.code {
        0 => {
            let data = answer.data.ok_or(ConnError::DiscoveryDecode("code 0 without data"))?;
            Endpoint::new(data.url, data.client_config.unwrap_or_default())
        }
        code if RETRYABLE_CODES.contains(&code) => Err(ConnError::DiscoveryBusy { code, msg: answer.msg }),
        code => Err(ConnError::DiscoveryRejected { code, msg: answer.msg }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(json: &str) -> ServerConfig {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn server_config_overrides_the_defaults() {
        let mut s = Settings::default();
        s.apply(&config(r#"{"ReconnectCount":3,"ReconnectInterval":1,"ReconnectNonce":0,"PingInterval":5}"#));
        assert_eq!(
            s,
            Settings {
                reconnect_count: Some(3),
                reconnect_interval: Duration::from_secs(1),
                reconnect_nonce: Duration::ZERO,
                ping_interval: Duration::from_secs(5),
            }
        );
        s.apply(&config(r#"{"ReconnectCount":-1}"#));
        assert_eq!(s.reconnect_count, None, "negative means unlimited");
        assert_eq!(s.ping_interval, Duration::from_secs(5), "absent fields stay");
    }

    #[test]
    fn zero_ping_interval_is_clamped_and_negative_durations_ignored() {
        let mut s = Settings::default();
        s.apply(&config(r#"{"PingInterval":0,"ReconnectInterval":-5}"#));
        assert_eq!(s.ping_interval, MIN_PING_INTERVAL);
        assert_eq!(s.reconnect_interval, Duration::from_secs(120));
    }

    #[test]
    fn url_query_gives_device_and_service() {
        let e = Endpoint::new(
            "wss://msg-frontier.feishu.cn/ws/v2?fpid=493&aid=552564&device_id=7480&access_key=AK&service_id=33554678&ticket=TK".into(),
            ServerConfig::default(),
        )
        .unwrap();
        assert_eq!(e.device_id.as_deref(), Some("7480"));
        assert_eq!(e.service_id, 33554678);
        assert_eq!(e.redacted(), "wss://msg-frontier.feishu.cn/ws/v2");
        let debug = format!("{e:?}");
        assert!(!debug.contains("AK") && !debug.contains("TK"), "{debug}");
    }

    #[test]
    fn missing_service_id_is_zero_and_other_schemes_are_refused() {
        let e = Endpoint::new("ws://127.0.0.1:9/ws?device_id=d".into(), ServerConfig::default()).unwrap();
        assert_eq!(e.service_id, 0);
        assert_eq!(e.redacted(), "ws://127.0.0.1:9/ws");
        assert!(Endpoint::new("https://x/ws".into(), ServerConfig::default()).is_err());
    }
}
