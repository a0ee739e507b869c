//! What a simulated app looks like: credentials, directory users, limits and how pushes behave.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Settings of the one app and tenant the simulator plays.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimConfig {
    /// The app id clients authenticate with (`cli_` + 16 hex digits, as Lark issues them).
    pub app_id: String,
    /// The matching app secret.
    pub app_secret: String,
    /// The tenant's directory; each user is given ids when the simulator starts.
    pub users: Vec<SimUser>,
    /// Billed calls allowed per calendar month of the sim clock (Lark's free plan: 10,000).
    pub monthly_quota: u64,
    /// Calls per second allowed per API per app; 0 disables the bound.
    pub app_rate_per_sec: u32,
    /// Calls per minute allowed per API per app; 0 disables the bound.
    pub app_rate_per_min: u32,
    /// Messages per second allowed per receiving user, chat or updated message; 0 disables the bound.
    pub per_target_qps: u32,
    /// The tenant key echoed in messages, chats and users.
    pub tenant_key: String,
    /// Waits before each re-push of an event the app did not acknowledge (Lark: 15 s, 5 min, 1 h, 6 h,
    /// i.e. four retries). Real time, not the sim clock, so tests can compress it to milliseconds.
    pub redelivery: Vec<Duration>,
    /// How long a push waits for the app's answer (HTTP 200 or the long-connection ack); Lark allows 3 s.
    pub push_timeout: Duration,
    /// What endpoint discovery and every pong hand to long-connection clients.
    pub client_config: ClientConfig,
    /// Split long-connection event payloads into fragments of at most this many bytes (`sum`/`seq`
    /// headers, sent out of order); `None` sends every event in one frame.
    pub ws_fragment_bytes: Option<usize>,
    /// Whether the app has the external-sharing capability, so it may create external chats
    /// (`external: true`); without it such a create answers 232033.
    pub external_chats: bool,
}

impl Default for SimConfig {
    /// A fixed development pair with the limits Lark documents for the free plan.
    fn default() -> Self {
        Self {
            app_id: "cli_a1b2c3d4e5f60718".to_owned(),
            app_secret: "sim-dev-secret-0123456789".to_owned(),
            users: Vec::new(),
            monthly_quota: 10_000,
            app_rate_per_sec: 50,
            app_rate_per_min: 1000,
            per_target_qps: 5,
            tenant_key: "2ed263bf32cf1651".to_owned(),
            redelivery: [15, 5 * 60, 3600, 6 * 3600].into_iter().map(Duration::from_secs).collect(),
            push_timeout: Duration::from_secs(3),
            client_config: ClientConfig::default(),
            ws_fragment_bytes: None,
            external_chats: false,
        }
    }
}

/// The long-connection client settings of spec §7.2, in seconds, serialized with Lark's PascalCase
/// keys (`{"PingInterval":120,"ReconnectCount":-1,"ReconnectInterval":120,"ReconnectNonce":30}`).
/// Field order is the order Lark writes them in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ClientConfig {
    /// Seconds between the client's pings.
    pub ping_interval: u32,
    /// Reconnect attempts after a disconnect; negative means without end.
    pub reconnect_count: i32,
    /// Seconds between reconnect attempts.
    pub reconnect_interval: u32,
    /// Upper bound of the random wait, in seconds, before the first reconnect attempt.
    pub reconnect_nonce: u32,
}

impl Default for ClientConfig {
    /// The values the official SDKs default to (and the spec saw the server send).
    fn default() -> Self {
        Self { ping_interval: 120, reconnect_count: -1, reconnect_interval: 120, reconnect_nonce: 30 }
    }
}

/// A directory user as configured (the `--users FILE` list holds these).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimUser {
    /// Display name.
    pub name: String,
    /// Registered email; `batch_get_id` matches it exactly.
    #[serde(default)]
    pub email: Option<String>,
    /// Mobile number with country code (`+8613800000000`).
    #[serde(default)]
    pub mobile: Option<String>,
}

impl SimUser {
    /// A user with a name and an email, the usual shape in tests.
    pub fn with_email(name: impl Into<String>, email: impl Into<String>) -> Self {
        Self { name: name.into(), email: Some(email.into()), mobile: None }
    }
}

/// A directory user with the ids the simulator assigned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimUserInfo {
    /// Display name.
    pub name: String,
    /// Registered email.
    pub email: Option<String>,
    /// Mobile number.
    pub mobile: Option<String>,
    /// `ou_` + 32 hex digits.
    pub open_id: String,
    /// `on_` + 32 hex digits.
    pub union_id: String,
    /// `u` + 8 hex digits.
    pub user_id: String,
}

/// Limits to change at run time; absent fields keep their value.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LimitsUpdate {
    /// New [`SimConfig::monthly_quota`].
    #[serde(default)]
    pub monthly_quota: Option<u64>,
    /// New [`SimConfig::app_rate_per_sec`].
    #[serde(default)]
    pub app_rate_per_sec: Option<u32>,
    /// New [`SimConfig::app_rate_per_min`].
    #[serde(default)]
    pub app_rate_per_min: Option<u32>,
    /// New [`SimConfig::per_target_qps`].
    #[serde(default)]
    pub per_target_qps: Option<u32>,
}
