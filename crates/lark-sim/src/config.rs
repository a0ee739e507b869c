//! What a simulated app looks like: credentials, directory users and limits.

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
        }
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
