//! Checking an integration's credentials against Lark, and saying precisely what to fix.
//! This is wiring (store + Lark client), so it lives in the composition root.

use std::sync::Arc;
use std::time::Duration;

use desk_store::{IntegrationSecrets, SecretBox, Store, StoreError};
use lark_notify::{ClientConfig, LarkClient, LarkError};
use serde::Serialize;
use utoipa::ToSchema;

/// One step of a credentials check.
#[derive(Debug, Serialize, ToSchema)]
pub struct CheckStep {
    /// Whether it worked.
    pub ok: bool,
    /// Lark's code when Lark refused.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<i64>,
    /// What happened, and what to do about it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

/// The result of checking an integration against Lark.
#[derive(Debug, Serialize, ToSchema)]
pub struct CheckReport {
    /// Everything worked.
    pub ok: bool,
    /// Fetching a tenant token with the App ID and App Secret.
    pub credentials: CheckStep,
    /// Reading the bot's own identity (needs the bot capability).
    pub bot: CheckStep,
    /// The bot's open_id, when the bot answered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bot_open_id: Option<String>,
    /// The app's name in Lark, when the bot answered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub app_name: Option<String>,
}

/// Words for an admin about a failed call.
fn explain(e: &LarkError, base_url: &str) -> String {
    match e.code() {
        Some(10014 | 10015 | 99991543) => {
            "Lark does not accept the App ID / App Secret: copy both again from the app's Credentials page in the developer console".into()
        }
        Some(99991662 | 99991673) => "the app is disabled or not installed in this tenant: publish and install it".into(),
        Some(99991401) => "Lark refuses this server's IP: add it to the app's IP allow-list or remove the list".into(),
        Some(99991672 | 99991676) => "the app lacks an API scope: add it under Permissions & Scopes and publish a new version".into(),
        Some(99991403) => "this month's Lark API quota is used up".into(),
        Some(code) => format!("Lark refused with code {code}: {e}"),
        None => match e {
            LarkError::Timeout => format!("{base_url} did not answer in time"),
            LarkError::Transport(_) => format!("cannot reach {base_url}: check the base URL and the network"),
            other => other.to_string(),
        },
    }
}

/// Builds a client for an integration from its stored settings and opened secrets.
pub fn client_for(base_url: &str, app_id: &str, secrets: IntegrationSecrets) -> Result<LarkClient, LarkError> {
    let mut config = ClientConfig::new(base_url, app_id, secrets.app_secret);
    config.request_timeout = Duration::from_secs(10);
    LarkClient::new(config, None::<Arc<dyn lark_notify::CallObserver>>)
}

/// Fetches a token and the bot's identity; reports each step. Costs one billed call (bot
/// info) and one free one (the token): run it on request, never on a schedule.
pub async fn check(store: &Store, seal: Option<&SecretBox>, id: &str) -> Result<CheckReport, StoreError> {
    let integration = store.integration(id).await?;
    let secrets = store.integration_secrets(id, seal).await?;
    let failed =
        |e: &LarkError| CheckStep { ok: false, code: e.code(), problem: Some(explain(e, &integration.base_url)) };
    let skipped = CheckStep { ok: false, code: None, problem: Some("not tried: the credentials do not work".into()) };
    let client = match client_for(&integration.base_url, &integration.app_id, secrets) {
        Ok(c) => c,
        Err(e) => {
            return Ok(CheckReport {
                ok: false,
                credentials: failed(&e),
                bot: skipped,
                bot_open_id: None,
                app_name: None,
            });
        }
    };
    if let Err(e) = client.check_credentials().await {
        return Ok(CheckReport { ok: false, credentials: failed(&e), bot: skipped, bot_open_id: None, app_name: None });
    }
    let credentials = CheckStep { ok: true, code: None, problem: None };
    match client.bot_info().await {
        Ok(bot) if bot.activate_status.is_some_and(|s| s != 2) => Ok(CheckReport {
            ok: false,
            credentials,
            bot: CheckStep {
                ok: false,
                code: None,
                problem: Some("the bot is not activated: enable the Bot capability and publish the app".into()),
            },
            bot_open_id: bot.open_id,
            app_name: bot.app_name,
        }),
        Ok(bot) => Ok(CheckReport {
            ok: true,
            credentials,
            bot: CheckStep { ok: true, code: None, problem: None },
            bot_open_id: bot.open_id,
            app_name: bot.app_name,
        }),
        Err(e) => Ok(CheckReport { ok: false, credentials, bot: failed(&e), bot_open_id: None, app_name: None }),
    }
}
