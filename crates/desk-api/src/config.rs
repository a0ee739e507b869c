//! Settings: compiled-in defaults, then `desk.toml` (or the file named by
//! `DESK_CONFIG_FILE`), then `DESK_*` environment variables. Keys are the flat names of
//! DESIGN.md; in the file they may be written with or without the `DESK_` prefix.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine as _;
use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

const DEFAULTS: &str = include_str!("../config/default.toml");

/// Every key of [`Settings`], as read from `DESK_<KEY>` environment variables.
const KEYS: &[&str] = &[
    "database_url",
    "database_max_connections",
    "database_schema",
    "listen",
    "public_url",
    "secret_key",
    "lark_mode",
    "lark_base_url",
    "lark_app_id",
    "lark_app_secret",
    "lark_verification_token",
    "lark_encrypt_key",
    "notify_window",
    "page_interval",
    "lark_request_timeout",
    "lark_monthly_budget",
    "lark_event_retention",
    "lark_max_request_age",
    "migrate_on_start",
    "log_format",
    "max_body_bytes",
    "webhook_timeout",
    "webhook_concurrency",
];

pub use desk_core::LarkMode;

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    /// One JSON object per line (production).
    Json,
    /// Human-readable lines (local development).
    Pretty,
}

/// Every setting of the `desk` binary.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// `DESK_DATABASE_URL`: `sqlite://…` (embedded default) or `postgres://…`.
    pub database_url: String,
    /// `DESK_DATABASE_MAX_CONNECTIONS`: pool size.
    pub database_max_connections: u32,
    /// `DESK_DATABASE_SCHEMA`: PostgreSQL schema (search_path); tests isolate runs with it.
    #[serde(default)]
    pub database_schema: Option<String>,
    /// `DESK_LISTEN`: address to serve HTTP on (port 0 picks a free one).
    pub listen: String,
    /// `DESK_PUBLIC_URL`: how people reach this server (invite links, card URLs).
    pub public_url: String,
    /// `DESK_SECRET_KEY`: 32 bytes, base64; encrypts integration secrets at rest.
    #[serde(default)]
    pub secret_key: Option<SecretString>,
    /// `DESK_LARK_MODE`: `off`, `webhook` or `long_connection`.
    pub lark_mode: LarkMode,
    /// `DESK_LARK_BASE_URL`: Lark, Feishu or lark-sim.
    pub lark_base_url: String,
    /// `DESK_LARK_APP_ID` of the default integration.
    #[serde(default)]
    pub lark_app_id: Option<String>,
    /// `DESK_LARK_APP_SECRET` of the default integration.
    #[serde(default)]
    pub lark_app_secret: Option<SecretString>,
    /// `DESK_LARK_VERIFICATION_TOKEN` of the default integration.
    #[serde(default)]
    pub lark_verification_token: Option<SecretString>,
    /// `DESK_LARK_ENCRYPT_KEY` of the default integration.
    #[serde(default)]
    pub lark_encrypt_key: Option<SecretString>,
    /// `DESK_NOTIFY_WINDOW`: at most one notification per person per this long.
    #[serde(with = "humantime_serde")]
    pub notify_window: Duration,
    /// `DESK_PAGE_INTERVAL`: an unacknowledged emergency is paged again this often (never
    /// faster), climbing the on-call chain; also how long a quiet acknowledged one waits
    /// between pages.
    #[serde(with = "humantime_serde")]
    pub page_interval: Duration,
    /// `DESK_LARK_REQUEST_TIMEOUT`: how long one Lark call may take before it is retried.
    #[serde(with = "humantime_serde")]
    pub lark_request_timeout: Duration,
    /// `DESK_LARK_MONTHLY_BUDGET`: Lark API calls allowed per month per integration.
    pub lark_monthly_budget: u32,
    /// `DESK_LARK_EVENT_RETENTION`: how long Lark event and message ids are remembered to
    /// drop redeliveries; an event older than this is a replay and is ignored.
    #[serde(with = "humantime_serde")]
    pub lark_event_retention: Duration,
    /// `DESK_LARK_MAX_REQUEST_AGE`: when set, webhook pushes whose signed timestamp is
    /// further than this from the server's clock are refused. Unset by default: whether
    /// Lark refreshes that timestamp when it redelivers is not documented.
    #[serde(default, with = "humantime_serde")]
    pub lark_max_request_age: Option<Duration>,
    /// `DESK_MIGRATE_ON_START`: `desk serve` migrates first (turn off with several instances).
    pub migrate_on_start: bool,
    /// `DESK_LOG_FORMAT`: `json` or `pretty`.
    pub log_format: LogFormat,
    /// `DESK_MAX_BODY_BYTES`: largest request body accepted.
    pub max_body_bytes: usize,
    /// `DESK_WEBHOOK_TIMEOUT`: how long one outbound webhook delivery may take (connection
    /// included) before it counts as failed and is retried.
    #[serde(with = "humantime_serde")]
    pub webhook_timeout: Duration,
    /// `DESK_WEBHOOK_CONCURRENCY`: outbound webhook deliveries in flight at once; one
    /// subscriber gets a quarter of them at most.
    pub webhook_concurrency: usize,
}

impl fmt::Debug for Settings {
    // Written by hand so that no secret (nor a password inside the database URL) can
    // reach a log through `{:?}`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Settings")
            .field("database_url", &redact_url(&self.database_url))
            .field("listen", &self.listen)
            .field("public_url", &self.public_url)
            .field("secret_key", &self.secret_key.as_ref().map(|_| "[redacted]"))
            .field("lark_mode", &self.lark_mode)
            .field("lark_base_url", &self.lark_base_url)
            .field("lark_app_id", &self.lark_app_id)
            .field("lark_app_secret", &self.lark_app_secret.as_ref().map(|_| "[redacted]"))
            .field("notify_window", &self.notify_window)
            .field("page_interval", &self.page_interval)
            .field("lark_monthly_budget", &self.lark_monthly_budget)
            .field("migrate_on_start", &self.migrate_on_start)
            .finish_non_exhaustive()
    }
}

/// Why settings could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A file or variable could not be read or has the wrong type.
    #[error("{0}")]
    Load(String),
    /// A value is present but unusable; the message names the variable.
    #[error("{var}: {reason}")]
    Invalid {
        /// The environment variable to fix.
        var: &'static str,
        /// What is wrong.
        reason: String,
    },
}

/// The database URL with any password replaced.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let creds = &url[scheme_end + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme_end + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

fn normalise_file(path: &Path) -> Result<BTreeMap<String, toml::Value>, ConfigError> {
    let text =
        std::fs::read_to_string(path).map_err(|e| ConfigError::Load(format!("cannot read {}: {e}", path.display())))?;
    let table: BTreeMap<String, toml::Value> =
        toml::from_str(&text).map_err(|e| ConfigError::Load(format!("{}: {e}", path.display())))?;
    Ok(table
        .into_iter()
        .map(|(k, v)| {
            let k = k.to_ascii_lowercase();
            let k = k.strip_prefix("desk_").map(str::to_owned).unwrap_or(k);
            (k, v)
        })
        .collect())
}

impl Settings {
    /// Loads from the usual places: defaults, `DESK_CONFIG_FILE` or `./desk.toml` if present,
    /// then the environment.
    pub fn load() -> Result<Self, ConfigError> {
        let file = std::env::var_os("DESK_CONFIG_FILE").map(PathBuf::from).or_else(|| {
            let local = PathBuf::from("desk.toml");
            local.exists().then_some(local)
        });
        // Only the settings' own names: other DESK_* variables (a test harness's, a
        // wrapper script's) are not typos in our configuration.
        Self::load_from(file.as_deref(), Env::prefixed("DESK_").only(KEYS))
    }

    /// Defaults only, as a starting point for tests and tools.
    pub fn defaults() -> Result<Self, ConfigError> {
        Self::load_from(None, Env::prefixed("DESK_UNUSED_NOTHING_"))
    }

    fn load_from(file: Option<&Path>, env: Env) -> Result<Self, ConfigError> {
        let mut figment = Figment::from(Toml::string(DEFAULTS));
        if let Some(path) = file {
            figment = figment.merge(Serialized::defaults(normalise_file(path)?));
        }
        let settings: Self = figment
            .merge(env)
            .extract()
            .map_err(|e| ConfigError::Load(e.to_string().replace("for key", "for setting")))?;
        settings.validate()?;
        Ok(settings)
    }

    /// Checks values that parse but cannot work.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |var, reason: &str| Err(ConfigError::Invalid { var, reason: reason.to_owned() });
        if !(self.database_url.starts_with("sqlite:")
            || self.database_url.starts_with("postgres://")
            || self.database_url.starts_with("postgresql://"))
        {
            return invalid("DESK_DATABASE_URL", "must start with sqlite:// or postgres://");
        }
        if self.database_max_connections == 0 {
            return invalid("DESK_DATABASE_MAX_CONNECTIONS", "must be at least 1");
        }
        if self.listen.parse::<SocketAddr>().is_err() {
            return invalid("DESK_LISTEN", "must be host:port, like 127.0.0.1:8080");
        }
        for (var, url) in [("DESK_PUBLIC_URL", &self.public_url), ("DESK_LARK_BASE_URL", &self.lark_base_url)] {
            if !(url.starts_with("http://") || url.starts_with("https://")) || url.len() < 10 {
                return invalid(var, "must be an http(s) URL");
            }
        }
        if let Some(key) = &self.secret_key {
            let decoded = base64::engine::general_purpose::STANDARD.decode(key.expose_secret().trim());
            if decoded.map(|k| k.len()) != Ok(32) {
                return invalid("DESK_SECRET_KEY", "must be 32 bytes, base64-encoded (openssl rand -base64 32)");
            }
        }
        if self.notify_window.is_zero() {
            return invalid("DESK_NOTIFY_WINDOW", "must be longer than zero, like 10m");
        }
        if self.page_interval < Duration::from_secs(60) || self.page_interval > Duration::from_secs(3600) {
            return invalid("DESK_PAGE_INTERVAL", "must be between 1m and 1h, like 5m");
        }
        if self.lark_request_timeout.is_zero() {
            return invalid("DESK_LARK_REQUEST_TIMEOUT", "must be longer than zero, like 10s");
        }
        // Lark redelivers for about 7 hours; a shorter memory would let a redelivery through.
        if self.lark_event_retention < Duration::from_secs(8 * 3600) {
            return invalid("DESK_LARK_EVENT_RETENTION", "must be at least 8h (Lark redelivers for about 7 hours)");
        }
        if self.lark_max_request_age.is_some_and(|a| a.is_zero()) {
            return invalid("DESK_LARK_MAX_REQUEST_AGE", "must be longer than zero, like 5m, or unset");
        }
        if self.lark_monthly_budget == 0 {
            return invalid("DESK_LARK_MONTHLY_BUDGET", "must be at least 1");
        }
        if self.max_body_bytes < 1024 {
            return invalid("DESK_MAX_BODY_BYTES", "must be at least 1024");
        }
        if self.webhook_timeout < Duration::from_secs(1) || self.webhook_timeout > Duration::from_secs(120) {
            return invalid("DESK_WEBHOOK_TIMEOUT", "must be between 1s and 2m, like 10s");
        }
        if !(1..=1024).contains(&self.webhook_concurrency) {
            return invalid("DESK_WEBHOOK_CONCURRENCY", "must be between 1 and 1024");
        }
        if self.lark_mode != LarkMode::Off && (self.lark_app_id.is_none() || self.lark_app_secret.is_none()) {
            return invalid(
                "DESK_LARK_APP_ID",
                "DESK_LARK_APP_ID and DESK_LARK_APP_SECRET are required unless DESK_LARK_MODE=off",
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_embedded_sqlite_on_localhost() {
        let s = Settings::defaults().unwrap();
        assert_eq!(s.database_url, "sqlite://./data/desk.db?mode=rwc");
        assert_eq!(s.listen, "127.0.0.1:8080");
        assert_eq!(s.notify_window, Duration::from_secs(600));
        assert_eq!(s.page_interval, Duration::from_secs(300));
        assert_eq!(s.lark_monthly_budget, 10_000);
        assert_eq!(s.lark_mode, LarkMode::Off);
    }

    #[test]
    fn file_keys_work_with_or_without_the_prefix() {
        let dir = std::env::temp_dir().join(format!("desk-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("desk.toml");
        std::fs::write(&path, "DESK_LISTEN = \"127.0.0.1:9090\"\nnotify_window = \"5m\"\n").unwrap();
        let s = Settings::load_from(Some(&path), Env::prefixed("DESK_UNUSED_NOTHING_")).unwrap();
        assert_eq!(s.listen, "127.0.0.1:9090");
        assert_eq!(s.notify_window, Duration::from_secs(300));
    }

    #[test]
    fn every_settings_field_is_read_from_the_environment() {
        // A field missing from KEYS could never be set by DESK_* variables.
        let json = serde_json::to_value(toml::from_str::<toml::Value>(DEFAULTS).unwrap()).unwrap();
        for key in json.as_object().unwrap().keys() {
            assert!(KEYS.contains(&key.as_str()), "{key} is not in KEYS");
        }
        assert_eq!(KEYS.len(), 23, "a new setting needs its key in KEYS and a default or #[serde(default)]");
    }

    #[test]
    fn a_page_interval_out_of_range_names_the_variable() {
        let mut s = Settings::defaults().unwrap();
        for bad in [Duration::from_secs(30), Duration::from_secs(2 * 3600)] {
            s.page_interval = bad;
            let err = s.validate().unwrap_err().to_string();
            assert!(err.starts_with("DESK_PAGE_INTERVAL"), "{err}");
        }
    }

    #[test]
    fn a_bad_secret_key_names_the_variable() {
        let mut s = Settings::defaults().unwrap();
        s.secret_key = Some(SecretString::from("dG9vIHNob3J0"));
        let err = s.validate().unwrap_err().to_string();
        assert!(err.starts_with("DESK_SECRET_KEY"), "{err}");
    }

    #[test]
    fn passwords_never_reach_debug_output() {
        let mut s = Settings::defaults().unwrap();
        s.database_url = "postgres://desk:hunter2@db:5432/desk".into();
        s.lark_app_secret = Some(SecretString::from("app-secret-value"));
        let shown = format!("{s:?}");
        assert!(!shown.contains("hunter2") && !shown.contains("app-secret-value"), "{shown}");
    }
}
