//! Integrations: one Lark app per customer organisation, with its connection mode.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{DomainError, OrgId, Validation};

/// How an integration talks to Lark.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LarkMode {
    /// Nothing is sent; the outbox keeps it.
    Off,
    /// Events arrive on the public webhook routes.
    Webhook,
    /// Events arrive over an outbound WebSocket.
    LongConnection,
}

impl LarkMode {
    /// Stable name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Off => "off",
            Self::Webhook => "webhook",
            Self::LongConnection => "long_connection",
        }
    }
}

impl fmt::Display for LarkMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for LarkMode {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "off" => Ok(Self::Off),
            "webhook" => Ok(Self::Webhook),
            "long_connection" => Ok(Self::LongConnection),
            _ => Err(DomainError::invalid("mode", "must be webhook, long_connection or off")),
        }
    }
}

/// International Lark's Open API host.
pub const LARK_BASE_URL: &str = "https://open.larksuite.com";
/// China Feishu's Open API host.
pub const FEISHU_BASE_URL: &str = "https://open.feishu.cn";

/// An integration as stored (its secrets live only in the store, sealed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Integration {
    /// A slug (`default`, `acme`); it names the webhook routes `/lark/{id}/…`.
    pub id: String,
    /// The customer organisation whose Lark tenant this app lives in.
    pub org_id: Option<OrgId>,
    /// Display name.
    pub name: String,
    /// Open API base URL (Lark, Feishu or lark-sim).
    pub base_url: String,
    /// `cli_…`.
    pub app_id: String,
    /// Connection mode.
    pub mode: LarkMode,
    /// Lark API calls allowed per month.
    pub monthly_budget: u32,
    /// Whether a verification token is stored.
    pub has_verification_token: bool,
    /// Whether an encrypt key is stored.
    pub has_encrypt_key: bool,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
}

/// Raw fields of a new or changed integration.
#[derive(Debug, Clone, Copy, Default)]
pub struct IntegrationInput<'a> {
    /// Slug.
    pub id: Option<&'a str>,
    /// Org.
    pub org_id: Option<OrgId>,
    /// Name.
    pub name: Option<&'a str>,
    /// `lark` or `feishu`.
    pub brand: Option<&'a str>,
    /// Explicit base URL (wins over `brand`).
    pub base_url: Option<&'a str>,
    /// App id.
    pub app_id: Option<&'a str>,
    /// App secret.
    pub app_secret: Option<&'a str>,
    /// Verification token.
    pub verification_token: Option<&'a str>,
    /// Encrypt key.
    pub encrypt_key: Option<&'a str>,
    /// Mode.
    pub mode: Option<&'a str>,
    /// Budget.
    pub monthly_budget: Option<u32>,
}

/// A checked new integration, secrets still in the clear (the store seals them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewIntegration {
    /// Slug.
    pub id: String,
    /// Org.
    pub org_id: Option<OrgId>,
    /// Name.
    pub name: String,
    /// Base URL.
    pub base_url: String,
    /// App id.
    pub app_id: String,
    /// App secret.
    pub app_secret: String,
    /// Verification token.
    pub verification_token: Option<String>,
    /// Encrypt key.
    pub encrypt_key: Option<String>,
    /// Mode.
    pub mode: LarkMode,
    /// Budget.
    pub monthly_budget: u32,
}

fn check_slug(v: &mut Validation, id: &str) {
    let ok = (1..=40).contains(&id.len())
        && id.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !id.starts_with('-');
    if !ok {
        v.fail("id", "must be 1-40 characters of a-z, 0-9 and -, like acme-lark");
    }
}

fn base_url(v: &mut Validation, brand: Option<&str>, explicit: Option<&str>) -> Option<String> {
    if let Some(url) = explicit {
        let url = url.trim().trim_end_matches('/');
        if !(url.starts_with("https://") || url.starts_with("http://")) || url.len() < 10 {
            v.fail("base_url", "must be an http(s) URL");
        }
        return Some(url.to_owned());
    }
    match brand {
        None => None,
        Some("lark") => Some(LARK_BASE_URL.to_owned()),
        Some("feishu") => Some(FEISHU_BASE_URL.to_owned()),
        Some(_) => {
            v.fail("brand", "must be lark or feishu (or give base_url)");
            None
        }
    }
}

fn check_app_id(v: &mut Validation, app_id: &str) {
    if !(app_id.starts_with("cli_")
        && (5..=64).contains(&app_id.len())
        && app_id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
    {
        v.fail("app_id", "must be the app's App ID from the Lark developer console, like cli_a1b2c3d4e5f60718");
    }
}

impl NewIntegration {
    /// Checks raw input: app id and secret are required; Lark is the default host.
    pub fn parse(input: IntegrationInput<'_>) -> Result<Self, DomainError> {
        let mut v = Validation::new();
        let id = input.id.unwrap_or("default").trim().to_owned();
        check_slug(&mut v, &id);
        let name = v.required_line("name", input.name.unwrap_or(&id), 200);
        let base_url = base_url(&mut v, input.brand, input.base_url).unwrap_or_else(|| LARK_BASE_URL.to_owned());
        let app_id = input.app_id.unwrap_or_default().trim().to_owned();
        check_app_id(&mut v, &app_id);
        let app_secret = v.required_line("app_secret", input.app_secret.unwrap_or_default(), 256);
        let verification_token = v.optional_line("verification_token", input.verification_token, 256);
        let encrypt_key = v.optional_line("encrypt_key", input.encrypt_key, 256);
        let mode = v
            .choice::<LarkMode>("mode", input.mode, "must be webhook, long_connection or off")
            .unwrap_or(LarkMode::Webhook);
        let monthly_budget = input.monthly_budget.unwrap_or(10_000);
        if monthly_budget == 0 {
            v.fail("monthly_budget", "must be at least 1");
        }
        v.finish(Self {
            id,
            org_id: input.org_id,
            name,
            base_url,
            app_id,
            app_secret,
            verification_token,
            encrypt_key,
            mode,
            monthly_budget,
        })
    }
}

/// A checked change to an integration; secrets given are replaced (rotation).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IntegrationPatch {
    /// Org.
    pub org_id: Option<OrgId>,
    /// Name.
    pub name: Option<String>,
    /// Base URL.
    pub base_url: Option<String>,
    /// App id.
    pub app_id: Option<String>,
    /// New app secret.
    pub app_secret: Option<String>,
    /// New verification token.
    pub verification_token: Option<String>,
    /// New encrypt key.
    pub encrypt_key: Option<String>,
    /// Mode.
    pub mode: Option<LarkMode>,
    /// Budget.
    pub monthly_budget: Option<u32>,
}

impl IntegrationPatch {
    /// Checks raw input (the `id` field is ignored: ids do not change).
    pub fn parse(input: IntegrationInput<'_>) -> Result<Self, DomainError> {
        let mut v = Validation::new();
        let name = input.name.map(|n| v.required_line("name", n, 200));
        let base_url = base_url(&mut v, input.brand, input.base_url);
        let app_id = input.app_id.map(|a| {
            let a = a.trim().to_owned();
            check_app_id(&mut v, &a);
            a
        });
        let app_secret = input.app_secret.map(|s| v.required_line("app_secret", s, 256));
        let verification_token = input.verification_token.map(|s| v.required_line("verification_token", s, 256));
        let encrypt_key = input.encrypt_key.map(|s| v.required_line("encrypt_key", s, 256));
        let mode = v.choice::<LarkMode>("mode", input.mode, "must be webhook, long_connection or off");
        if input.monthly_budget == Some(0) {
            v.fail("monthly_budget", "must be at least 1");
        }
        let patch = Self {
            org_id: input.org_id,
            name,
            base_url,
            app_id,
            app_secret,
            verification_token,
            encrypt_key,
            mode,
            monthly_budget: input.monthly_budget,
        };
        if patch == Self::default() {
            v.fail("", "name at least one field to change");
        }
        v.finish(patch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input<'a>() -> IntegrationInput<'a> {
        IntegrationInput { app_id: Some("cli_a1b2c3d4e5f60718"), app_secret: Some("s3cret"), ..Default::default() }
    }

    #[test]
    fn defaults_to_lark_webhook_named_default() {
        let i = NewIntegration::parse(input()).unwrap();
        assert_eq!((i.id.as_str(), i.base_url.as_str(), i.mode), ("default", LARK_BASE_URL, LarkMode::Webhook));
        let f = NewIntegration::parse(IntegrationInput { brand: Some("feishu"), ..input() }).unwrap();
        assert_eq!(f.base_url, FEISHU_BASE_URL);
    }

    #[test]
    fn refuses_bad_ids_app_ids_and_hosts_all_at_once() {
        let bad = IntegrationInput {
            id: Some("Acme Corp"),
            app_id: Some("a1b2"),
            base_url: Some("ftp://x"),
            app_secret: Some(""),
            ..Default::default()
        };
        let DomainError::Invalid(errors) = NewIntegration::parse(bad).unwrap_err() else { panic!() };
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["id", "base_url", "app_id", "app_secret"]);
    }
}
