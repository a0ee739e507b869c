//! `/api/v1/integrations`: the Lark apps of customer organisations. Secrets go in and are
//! sealed at rest; they never come out.

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use desk_core::notify;
use desk_core::{Action, Integration, IntegrationInput, IntegrationPatch, LarkMode, NewIntegration, OrgId};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use lark_notify::longconn::ConnState;

use crate::auth::Caller;
use crate::error::{ApiError, Problem};
use crate::extract::Body;
use crate::integrations::{self, CheckReport};
use crate::state::AppState;

/// An integration, without its secrets.
#[derive(Debug, Serialize, ToSchema)]
pub struct IntegrationDto {
    /// Slug; the Lark callback routes are `/lark/{id}/events` and `/lark/{id}/cards`.
    pub id: String,
    /// The customer organisation.
    pub org_id: Option<Uuid>,
    /// Display name.
    pub name: String,
    /// Open API base URL.
    pub base_url: String,
    /// App ID.
    pub app_id: String,
    /// `webhook`, `long_connection` or `off`.
    pub mode: String,
    /// Lark API calls allowed per month.
    pub monthly_budget: u32,
    /// An App Secret is stored (always true).
    pub has_app_secret: bool,
    /// A verification token is stored.
    pub has_verification_token: bool,
    /// An encrypt key is stored.
    pub has_encrypt_key: bool,
    /// Where Lark should send events.
    pub events_url: String,
    /// Where Lark should send card actions.
    pub cards_url: String,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
}

impl IntegrationDto {
    fn new(i: Integration, public_url: &str) -> Self {
        let public = public_url.trim_end_matches('/');
        Self {
            events_url: format!("{public}/lark/{}/events", i.id),
            cards_url: format!("{public}/lark/{}/cards", i.id),
            id: i.id,
            org_id: i.org_id.map(|o| o.as_uuid()),
            name: i.name,
            base_url: i.base_url,
            app_id: i.app_id,
            mode: i.mode.as_str().to_owned(),
            monthly_budget: i.monthly_budget,
            has_app_secret: true,
            has_verification_token: i.has_verification_token,
            has_encrypt_key: i.has_encrypt_key,
            created_at: i.created_at,
            updated_at: i.updated_at,
        }
    }
}

/// A Lark app to register, or changes to one (secrets given are replaced).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IntegrationBody {
    /// Slug (a-z, 0-9, -); `default` when absent. Ignored on change.
    pub id: Option<String>,
    /// The customer organisation whose tenant the app lives in.
    pub org_id: Option<Uuid>,
    /// Display name.
    pub name: Option<String>,
    /// `lark` (default) or `feishu`.
    pub brand: Option<String>,
    /// Explicit Open API base URL (e.g. lark-sim's); wins over `brand`.
    pub base_url: Option<String>,
    /// App ID (`cli_…`).
    pub app_id: Option<String>,
    /// App Secret.
    pub app_secret: Option<String>,
    /// Verification token (event subscriptions).
    pub verification_token: Option<String>,
    /// Encrypt key (event subscriptions).
    pub encrypt_key: Option<String>,
    /// `webhook` (default), `long_connection` or `off`.
    pub mode: Option<String>,
    /// Lark API calls allowed per month (default 10,000).
    pub monthly_budget: Option<u32>,
}

impl IntegrationBody {
    fn input(&self) -> IntegrationInput<'_> {
        IntegrationInput {
            id: self.id.as_deref(),
            org_id: self.org_id.map(OrgId::from_uuid),
            name: self.name.as_deref(),
            brand: self.brand.as_deref(),
            base_url: self.base_url.as_deref(),
            app_id: self.app_id.as_deref(),
            app_secret: self.app_secret.as_deref(),
            verification_token: self.verification_token.as_deref(),
            encrypt_key: self.encrypt_key.as_deref(),
            mode: self.mode.as_deref(),
            monthly_budget: self.monthly_budget,
        }
    }
}

/// All integrations.
#[derive(Debug, Serialize, ToSchema)]
pub struct IntegrationList {
    /// The integrations, by id.
    pub items: Vec<IntegrationDto>,
}

/// Register a Lark app (admins only). Needs `DESK_SECRET_KEY` on the server.
#[utoipa::path(post, path = "/api/v1/integrations", tag = "integrations", request_body = IntegrationBody,
    security(("bearer" = [])),
    responses((status = 201, body = IntegrationDto), (status = 403, body = Problem), (status = 409, body = Problem),
        (status = 422, body = Problem)))]
pub async fn create(
    state: web::Data<AppState>,
    caller: Caller,
    body: Body<IntegrationBody>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Action::ManageIntegrations, "manage integrations")?;
    let new = NewIntegration::parse(body.0.input())?;
    let created = state.store.create_integration(new, state.secret_box.as_ref(), state.clock.now()).await?;
    Ok(HttpResponse::Created().json(IntegrationDto::new(created, &state.settings.public_url)))
}

/// List integrations.
#[utoipa::path(get, path = "/api/v1/integrations", tag = "integrations", security(("bearer" = [])),
    responses((status = 200, body = IntegrationList), (status = 403, body = Problem)))]
pub async fn list(state: web::Data<AppState>, caller: Caller) -> Result<HttpResponse, ApiError> {
    caller.require(Action::ReadIntegrations, "read integrations")?;
    let items = state.store.list_integrations().await?;
    let public = &state.settings.public_url;
    Ok(HttpResponse::Ok()
        .json(IntegrationList { items: items.into_iter().map(|i| IntegrationDto::new(i, public)).collect() }))
}

/// Read an integration.
#[utoipa::path(get, path = "/api/v1/integrations/{id}", tag = "integrations",
    params(("id" = String, Path, description = "Integration id")), security(("bearer" = [])),
    responses((status = 200, body = IntegrationDto), (status = 404, body = Problem)))]
pub async fn get(state: web::Data<AppState>, caller: Caller, id: web::Path<String>) -> Result<HttpResponse, ApiError> {
    caller.require(Action::ReadIntegrations, "read integrations")?;
    let integration = state.store.integration(&id).await?;
    Ok(HttpResponse::Ok().json(IntegrationDto::new(integration, &state.settings.public_url)))
}

/// Change an integration; secrets given replace the stored ones (rotation).
#[utoipa::path(patch, path = "/api/v1/integrations/{id}", tag = "integrations", request_body = IntegrationBody,
    params(("id" = String, Path, description = "Integration id")), security(("bearer" = [])),
    responses((status = 200, body = IntegrationDto), (status = 404, body = Problem), (status = 409, body = Problem),
        (status = 422, body = Problem)))]
pub async fn update(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    body: Body<IntegrationBody>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Action::ManageIntegrations, "manage integrations")?;
    let patch = IntegrationPatch::parse(body.0.input())?;
    let updated = state.store.update_integration(&id, patch, state.secret_box.as_ref(), state.clock.now()).await?;
    Ok(HttpResponse::Ok().json(IntegrationDto::new(updated, &state.settings.public_url)))
}

/// Check the credentials against Lark: a token fetch and the bot's identity, each step
/// reported with what to fix. Costs one Lark API call; nothing runs it on a schedule.
#[utoipa::path(post, path = "/api/v1/integrations/{id}/check", tag = "integrations",
    params(("id" = String, Path, description = "Integration id")), security(("bearer" = [])),
    responses((status = 200, body = CheckReport), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn check(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Action::ReadIntegrations, "check integrations")?;
    let report = integrations::check(&state.store, &state.lanes, &id, state.clock.now()).await?;
    Ok(HttpResponse::Ok().json(report))
}

/// An integration's Lark API budget for the current month.
#[derive(Debug, Serialize, ToSchema)]
pub struct BudgetDto {
    /// The integration.
    pub integration_id: String,
    /// `YYYY-MM` (UTC; Lark resets the quota on the 1st).
    pub month: String,
    /// Billed calls allowed this month (`monthly_budget`).
    pub budget: u32,
    /// Billed calls spent (or in flight) this month.
    pub used: u32,
    /// Kept back for emergency pages.
    pub reserved: u32,
    /// Of `used`, spent on emergencies.
    pub emergency_used: u32,
    /// What ordinary notifications may still spend.
    pub left: u32,
    /// The month's total at the pace so far.
    pub projected: u32,
    /// Delivery now: `normal`, `merge_edits`, `digests_only` or `emergencies_only`.
    pub level: String,
    /// The highest share (50, 80, 95, 100) the TAM has been told of; 0 if none.
    pub alerted_percent: u8,
    /// Since when notifications have been queued because the budget is spent; null if they are not.
    pub queued_since: Option<DateTime<Utc>>,
    /// Notifications waiting (for a window, quiet hours or the budget).
    pub waiting_notifications: u64,
    /// Cards composed and not yet sent.
    pub queued_cards: u64,
    /// Lark calls in the ledger this month (billed or not, failed or not).
    pub ledger_calls: u64,
    /// Of those, the ones Lark bills.
    pub ledger_billed: u64,
    /// Of those, the ones that failed.
    pub ledger_failed: u64,
}

/// The month's Lark API budget: used, reserved, left, the projection, and whether
/// notifications are queueing at the budget. Reading it costs no Lark call.
#[utoipa::path(get, path = "/api/v1/integrations/{id}/budget", tag = "integrations",
    params(("id" = String, Path, description = "Integration id")), security(("bearer" = [])),
    responses((status = 200, body = BudgetDto), (status = 404, body = Problem)))]
pub async fn budget(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Action::ReadIntegrations, "read integrations")?;
    let integration = state.store.integration(&id).await?;
    Ok(HttpResponse::Ok().json(budget_of(&state, integration).await?))
}

async fn budget_of(state: &AppState, integration: Integration) -> Result<BudgetDto, ApiError> {
    let now = state.clock.now();
    let usage = state.store.budget_usage(&integration.id, now).await?;
    let ledger = state.store.ledger_summary(&integration.id, now).await?;
    let status = notify::budget_status(usage.used, integration.monthly_budget, now);
    Ok(BudgetDto {
        integration_id: integration.id,
        month: notify::month_key(now),
        budget: status.budget,
        used: status.used,
        reserved: status.reserved,
        emergency_used: usage.emergency_used,
        left: status.left,
        projected: status.projected,
        level: status.level.as_str().to_owned(),
        alerted_percent: usage.alerted,
        queued_since: usage.blocked_since,
        waiting_notifications: usage.waiting_notifications,
        queued_cards: usage.queued_deliveries,
        ledger_calls: ledger.calls,
        ledger_billed: ledger.billed,
        ledger_failed: ledger.failed,
    })
}

/// How an integration is doing, from what the desk already knows (no Lark call).
#[derive(Debug, Serialize, ToSchema)]
pub struct StatusDto {
    /// The integration.
    pub integration_id: String,
    /// `webhook`, `long_connection` or `off` (off: notifications stay queued).
    pub mode: String,
    /// Whether notifications are going out.
    pub delivering: bool,
    /// Why not, when they are not.
    pub problem: Option<String>,
    /// The month's budget.
    pub budget: BudgetDto,
    /// What Lark sent in.
    pub inbound: InboundDto,
    /// The long connection, in that mode.
    pub connection: Option<ConnectionDto>,
    /// The app's bot, once the desk has asked Lark who it is.
    pub bot: Option<BotDto>,
}

/// Events received from Lark.
#[derive(Debug, Serialize, ToSchema)]
pub struct InboundDto {
    /// When the newest event arrived (webhook or long connection).
    pub last_event_at: Option<DateTime<Utc>>,
    /// Accepted, waiting to be handled.
    pub pending: u64,
    /// Given up on after repeated failures.
    pub failed: u64,
    /// Handled, remembered to drop redeliveries (for `DESK_LARK_EVENT_RETENTION`).
    pub handled: u64,
}

/// The long connection of this process.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConnectionDto {
    /// `connecting`, `connected`, `disconnected` (on request) or `stopped` (a client error; see `last_error`).
    pub state: String,
    /// Whether events flow now.
    pub connected: bool,
    /// Lark's id of the open connection.
    pub connection_id: Option<String>,
    /// When it was opened.
    pub connected_since: Option<DateTime<Utc>>,
    /// Successful connections after the first.
    pub reconnects: u64,
    /// The last failure.
    pub last_error: Option<String>,
    /// Events received on it.
    pub events: u64,
    /// When the last one came.
    pub last_event_at: Option<DateTime<Utc>>,
}

/// The app's bot.
#[derive(Debug, Serialize, ToSchema)]
pub struct BotDto {
    /// Its open_id (how its @mentions are recognised).
    pub open_id: String,
    /// The app's name.
    pub name: Option<String>,
}

fn connection_dto(s: lark_notify::longconn::ConnStatus) -> ConnectionDto {
    let state = match s.state {
        ConnState::Connecting => "connecting",
        ConnState::Connected => "connected",
        ConnState::Disconnected => "disconnected",
        ConnState::Stopped => "stopped",
    };
    ConnectionDto {
        state: state.to_owned(),
        connected: s.state == ConnState::Connected,
        connection_id: s.connection_id,
        connected_since: s.connected_since.map(DateTime::<Utc>::from),
        reconnects: s.reconnects,
        last_error: s.last_error,
        events: s.events,
        last_event_at: s.last_event_at.map(DateTime::<Utc>::from),
    }
}

/// Connection and delivery status. Costs no Lark call: nothing polls Lark to answer it.
#[utoipa::path(get, path = "/api/v1/integrations/{id}/status", tag = "integrations",
    params(("id" = String, Path, description = "Integration id")), security(("bearer" = [])),
    responses((status = 200, body = StatusDto), (status = 404, body = Problem)))]
pub async fn status(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Action::ReadIntegrations, "read integrations")?;
    let integration = state.store.integration(&id).await?;
    let (id, mode) = (integration.id.clone(), integration.mode);
    let budget = budget_of(&state, integration).await?;
    let inbox = state.store.inbox_summary(&id).await?;
    let connection = state.connections.status(&id).await.map(connection_dto);
    let bot = state.inbound.known_bot(&id).await.map(|b| BotDto { open_id: b.open_id, name: b.name });
    let problem = if mode == LarkMode::Off {
        Some("mode is off: notifications are kept in the outbox and nothing is sent".to_owned())
    } else if budget.level == notify::PacingLevel::EmergenciesOnly.as_str() {
        Some("the month's Lark API budget is spent: only emergencies go out; the rest is queued".to_owned())
    } else {
        None
    };
    Ok(HttpResponse::Ok().json(StatusDto {
        integration_id: id,
        mode: mode.as_str().to_owned(),
        delivering: problem.is_none(),
        problem,
        budget,
        inbound: InboundDto {
            last_event_at: inbox.last_event_at,
            pending: inbox.pending,
            failed: inbox.failed,
            handled: inbox.done,
        },
        connection,
        bot,
    }))
}

/// Drops the integration's long connection and opens it again at once (fresh endpoint
/// discovery), also after a disconnect or a stop on a client error.
#[utoipa::path(post, path = "/api/v1/integrations/{id}/connection/reconnect", tag = "integrations",
    params(("id" = String, Path, description = "Integration id")), security(("bearer" = [])),
    responses((status = 202, body = ConnectionDto), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn reconnect(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    steer(&state, &caller, &id, true).await
}

/// Closes the integration's long connection until a reconnect is asked for. Lark keeps
/// what it could not deliver and delivers it after the reconnect.
#[utoipa::path(post, path = "/api/v1/integrations/{id}/connection/disconnect", tag = "integrations",
    params(("id" = String, Path, description = "Integration id")), security(("bearer" = [])),
    responses((status = 202, body = ConnectionDto), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn disconnect(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    steer(&state, &caller, &id, false).await
}

async fn steer(state: &AppState, caller: &Caller, id: &str, up: bool) -> Result<HttpResponse, ApiError> {
    caller.require(Action::ManageIntegrations, "manage integrations")?;
    let integration = state.store.integration(id).await?;
    if integration.mode != LarkMode::LongConnection {
        return Err(ApiError::Conflict {
            code: "not_long_connection",
            detail: format!(
                "integration {id} is in {} mode; only long_connection mode has a connection",
                integration.mode
            ),
            allowed: None,
        });
    }
    // A connection not opened yet (the integration just changed mode) is opened now.
    state.connections.reconcile().await?;
    let steered = if up { state.connections.reconnect(id).await } else { state.connections.disconnect(id).await };
    if !steered {
        return Err(ApiError::Internal(anyhow::anyhow!("no long connection for {id} after reconciling")));
    }
    // The connection task acts on the request by itself; give it a moment so the answer
    // shows the outcome (a reconnect to an unreachable Lark keeps saying `connecting`).
    let wanted = if up { ConnState::Connected } else { ConnState::Disconnected };
    let mut status = None;
    for _ in 0..100 {
        status = state.connections.status(id).await;
        if status.as_ref().is_none_or(|s| s.state == wanted) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    match status {
        Some(status) => Ok(HttpResponse::Accepted().json(connection_dto(status))),
        None => Err(ApiError::Internal(anyhow::anyhow!("the long connection of {id} went away"))),
    }
}
