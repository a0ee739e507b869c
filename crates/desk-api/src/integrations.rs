//! Checking an integration's credentials against Lark, and saying precisely what to fix.
//! This is wiring (store + Lark client), so it lives in the composition root.

use chrono::{DateTime, Utc};
use desk_core::notify::NotifyClass;
use desk_store::{Store, StoreError};
use lark_notify::dispatch::{LaneError, Lanes};
use lark_notify::{LarkError, with_purpose};
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
    /// Whether the app may make the external groups its organisations need.
    pub external_groups: ExternalGroupsStep,
}

impl CheckReport {
    /// A check that stopped at `credentials` or `bot`, before the bot answered.
    fn failed(credentials: CheckStep, bot: CheckStep) -> Self {
        Self {
            ok: false,
            credentials,
            bot,
            bot_open_id: None,
            app_name: None,
            external_groups: ExternalGroupsStep::default(),
        }
    }
}

/// What the desk knows about the app's external-sharing capability. Lark has no call that
/// says whether an app may create external groups short of creating one (a billed call
/// that leaves a chat behind), so the check does not probe: it reports whether this
/// integration's groups mix Lark tenants, and what Lark said the last time it refused one.
#[derive(Debug, Default, Serialize, ToSchema)]
pub struct ExternalGroupsStep {
    /// False when Lark refused a group of this integration for want of external sharing.
    pub ok: bool,
    /// Whether any of this integration's groups holds people of two Lark tenants.
    pub needed: bool,
    /// `known` when a group of this integration showed it (made as an external group, or
    /// refused); `untested` otherwise.
    pub evidence: String,
    /// What to enable in the Lark console, when Lark refused.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
    /// The group that was refused (retry it with `POST /groups/{id}/retry` once fixed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group_id: Option<uuid::Uuid>,
}

/// The external-groups step, from what the integration's groups showed.
async fn external_groups(store: &Store, id: &str) -> Result<ExternalGroupsStep, StoreError> {
    let (needed, refused) = store.external_groups_of(id).await?;
    let evidence = if needed { "known" } else { "untested" }.to_owned();
    Ok(match refused {
        Some((group, problem)) => {
            ExternalGroupsStep { ok: false, needed, evidence, problem: Some(problem), group_id: Some(group) }
        }
        None => ExternalGroupsStep { ok: true, needed, evidence, problem: None, group_id: None },
    })
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

/// Fetches a token and the bot's identity; reports each step. The bot-info call is billed,
/// so it goes through the integration's shared client (the ledger sees it) and its
/// budget (it is refused when the month is spent): run it on request, never on a schedule.
pub async fn check(store: &Store, lanes: &Lanes, id: &str, now: DateTime<Utc>) -> Result<CheckReport, StoreError> {
    let mut report = check_app(store, lanes, id, now).await?;
    report.external_groups = external_groups(store, id).await?;
    report.ok &= report.external_groups.ok;
    Ok(report)
}

async fn check_app(store: &Store, lanes: &Lanes, id: &str, now: DateTime<Utc>) -> Result<CheckReport, StoreError> {
    let integration = store.integration(id).await?;
    let failed =
        |e: &LarkError| CheckStep { ok: false, code: e.code(), problem: Some(explain(e, &integration.base_url)) };
    let skipped = CheckStep { ok: false, code: None, problem: Some("not tried: the credentials do not work".into()) };
    let client = match lanes.client(&integration).await {
        Ok(c) => c,
        Err(LaneError::Store(e)) => return Err(e),
        Err(LaneError::Lark(e)) => return Ok(CheckReport::failed(failed(&e), skipped)),
    };
    let result = with_purpose("check", client.check_credentials()).await;
    if let Err(e) = result {
        return Ok(CheckReport::failed(failed(&e), skipped));
    }
    let credentials = CheckStep { ok: true, code: None, problem: None };
    if store.reserve_call(id, integration.monthly_budget, NotifyClass::Action, now).await?.is_none() {
        let problem = "not tried: this month's Lark API budget is spent (the bot check is a billed call)";
        let bot = CheckStep { ok: false, code: None, problem: Some(problem.into()) };
        return Ok(CheckReport::failed(credentials, bot));
    }
    let answer = with_purpose("check", client.bot_info()).await;
    if let Err(e) = &answer
        && e.is_refusal()
    {
        // Lark refused: not billed, so the reserved call goes back.
        store.release_call(id, NotifyClass::Action, now, now).await?;
    }
    lanes.flush_ledger().await?;
    match answer {
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
            external_groups: ExternalGroupsStep::default(),
        }),
        Ok(bot) => Ok(CheckReport {
            ok: true,
            credentials,
            bot: CheckStep { ok: true, code: None, problem: None },
            bot_open_id: bot.open_id,
            app_name: bot.app_name,
            external_groups: ExternalGroupsStep::default(),
        }),
        Err(e) => Ok(CheckReport::failed(credentials, failed(&e))),
    }
}
