//! `/api/v1/hooks/ticketing/{source}`: deliveries from a ticketing system; and
//! `/api/v1/hooks/sources`: the registered systems, their secrets and delivery logs.

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use desk_core::hooks::{HookSource, HookSourcePatch, HookStyle, NewHookSource, SecretInfo};
use desk_core::{Action, OrgId};
use desk_store::StoreError;
use desk_store::hooks::HookReceipt;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::PageParams;
use crate::auth::Caller;
use crate::error::{ApiError, Problem};
use crate::extract::{Body, Query, double_option};
use crate::hooks::payload::HookDelivery;
use crate::hooks::{Applied, signature};
use crate::state::AppState;

/// What became of a delivery.
#[derive(Debug, Serialize, ToSchema)]
pub struct HookAck {
    /// The delivery id the desk went by.
    pub delivery_id: String,
    /// Whether it had been applied before (and so was not applied again).
    pub duplicate: bool,
    /// What it did: `created`, `updated`, `commented`, `unchanged` or `stale` (older than
    /// what was applied already: the ticket's fields were left alone), joined with `+`.
    pub outcome: String,
    /// The desk ticket.
    pub ticket_id: Option<Uuid>,
}

impl From<Applied> for HookAck {
    fn from(a: Applied) -> Self {
        Self {
            delivery_id: a.delivery_id,
            duplicate: a.duplicate,
            outcome: a.outcome,
            ticket_id: a.ticket_id.map(|t| t.as_uuid()),
        }
    }
}

/// A delivery from a registered ticketing system, in the native format (`HookDelivery`).
///
/// Signed by the source's style. **Standard Webhooks** (the default): `webhook-id`,
/// `webhook-timestamp` (Unix seconds), `webhook-signature: v1,<base64 HMAC-SHA256 of
/// "{webhook-id}.{webhook-timestamp}.{body}">` under a `whsec_…` secret (several
/// space-separated signatures are fine). **GitHub style**: `X-Hub-Signature-256:
/// sha256=<hex HMAC-SHA256 of the body>`, the delivery id in the body's `id` (or
/// `X-GitHub-Delivery`), the time in the body's `timestamp`. Either way a signature from
/// either of the source's secrets is accepted, and a timestamp more than 5 minutes from
/// the server's clock is refused. Refused deliveries change nothing.
///
/// A delivery id already applied is answered 200 with `duplicate: true` and not applied
/// again. The ticket is found by the source's name and `external_id` (its external
/// reference); an unknown one is opened when the delivery has a title and an
/// organisation (its own `org_id` or the source's default), else 422
/// `hook_ticket_unknown`. Deliveries older than one applied already (by `version`, else
/// `updated_at`) leave the ticket's fields alone; comments are added once per
/// `external_id` whatever the order.
#[utoipa::path(post, path = "/api/v1/hooks/ticketing/{source}", tag = "hooks",
    params(("source" = String, Path, description = "The source's name")),
    request_body(content = HookDelivery, content_type = "application/json"),
    responses(
        (status = 200, body = HookAck, description = "Applied, or a duplicate acknowledged"),
        (status = 400, body = Problem, description = "Not JSON, or no delivery id"),
        (status = 401, body = Problem, description = "`hook_signature_missing`, `hook_signature_invalid`, `hook_timestamp_stale`, `hook_timestamp_invalid`, `hook_timestamp_missing`"),
        (status = 404, body = Problem, description = "No such source"),
        (status = 409, body = Problem, description = "The same delivery or ticket is being applied right now; retry"),
        (status = 410, body = Problem, description = "The source is turned off"),
        (status = 422, body = Problem, description = "The body does not match the schema, names unknown people or organisations, or is about an unknown ticket it cannot open")))]
pub async fn receive(
    state: web::Data<AppState>,
    source: web::Path<String>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let applied = state.hooks.intake.receive(&source, req.headers(), &body).await?;
    Ok(HttpResponse::Ok().json(HookAck::from(applied)))
}

// ---- sources --------------------------------------------------------------------------

/// One of a source's secrets (never the secret itself).
#[derive(Debug, Serialize, ToSchema)]
pub struct HookSecretDto {
    /// Id, to remove it once a rotation is done.
    pub id: Uuid,
    /// Its first characters (`whsec_Mf…`).
    pub hint: String,
    /// Added.
    pub created_at: DateTime<Utc>,
}

impl From<SecretInfo> for HookSecretDto {
    fn from(s: SecretInfo) -> Self {
        Self { id: s.id, hint: s.hint, created_at: s.created_at }
    }
}

/// A registered ticketing system.
#[derive(Debug, Serialize, ToSchema)]
pub struct HookSourceDto {
    /// Slug: the URL's `{source}`, and the `system` of its tickets' external references.
    pub name: String,
    /// For people.
    pub display_name: String,
    /// `standard_webhooks` or `github`.
    pub style: String,
    /// Where tickets go when a delivery names no organisation.
    pub default_org_id: Option<Uuid>,
    /// Whether deliveries are accepted.
    pub enabled: bool,
    /// Where the source posts.
    pub url: String,
    /// Its secrets, oldest first (two while rotating).
    pub secrets: Vec<HookSecretDto>,
    /// Registered.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
}

impl HookSourceDto {
    fn new(s: HookSource, public_url: &str) -> Self {
        Self {
            url: format!("{}/api/v1/hooks/ticketing/{}", public_url.trim_end_matches('/'), s.name),
            name: s.name,
            display_name: s.display_name,
            style: s.style.as_str().to_owned(),
            default_org_id: s.default_org_id.map(|o| o.as_uuid()),
            enabled: s.enabled,
            secrets: s.secrets.into_iter().map(HookSecretDto::from).collect(),
            created_at: s.created_at,
            updated_at: s.updated_at,
        }
    }
}

/// A registered source with a secret the desk made: the only time it is shown.
#[derive(Debug, Serialize, ToSchema)]
pub struct HookSourceWithSecret {
    /// The source.
    pub source: HookSourceDto,
    /// The new secret's id.
    pub secret_id: Uuid,
    /// The new secret, when the desk generated it (null when you supplied it). Shown once.
    pub secret: Option<String>,
}

/// All sources.
#[derive(Debug, Serialize, ToSchema)]
pub struct HookSourceList {
    /// The sources, by name.
    pub items: Vec<HookSourceDto>,
}

/// A ticketing system to register.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateHookSource {
    /// Slug: a-z, 0-9, `-`, `_` (like `zendesk`).
    pub name: String,
    /// For people (the name when absent).
    pub display_name: Option<String>,
    /// `standard_webhooks` (default) or `github`.
    pub style: Option<String>,
    /// Where tickets go when a delivery names no organisation.
    pub default_org_id: Option<Uuid>,
    /// The secret, if the ticketing system made one (`whsec_…` for Standard Webhooks,
    /// 16–256 characters for GitHub style); the desk makes one when absent.
    pub secret: Option<String>,
}

/// Changes to a source.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateHookSource {
    /// For people.
    pub display_name: Option<String>,
    /// `standard_webhooks` or `github`.
    pub style: Option<String>,
    /// Where tickets go when a delivery names no organisation (null clears it).
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<Uuid>)]
    pub default_org_id: Option<Option<Uuid>>,
    /// Accept deliveries (false answers them 410).
    pub enabled: Option<bool>,
}

/// A secret to add to a source.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddHookSecret {
    /// The secret, if the ticketing system made it; the desk makes one when absent.
    pub secret: Option<String>,
}

/// The secret to store: the one given (checked for the style) or a fresh one.
fn secret_for(style: HookStyle, given: Option<&str>) -> Result<(String, bool), ApiError> {
    match given {
        Some(s) => {
            signature::check_secret(style, s, "secret").map_err(|e| ApiError::invalid(e.field, e.reason))?;
            Ok((s.to_owned(), false))
        }
        None => Ok((signature::generate(style), true)),
    }
}

fn source_error(e: StoreError) -> ApiError {
    match e {
        StoreError::NotFound { entity: "hook_source", .. } => {
            ApiError::NotFound { code: "hook_source_not_found", detail: e.to_string() }
        }
        StoreError::NotFound { entity: "hook_secret", .. } => {
            ApiError::NotFound { code: "hook_secret_not_found", detail: e.to_string() }
        }
        other => other.into(),
    }
}

/// Register a ticketing system (admins only). The answer shows a generated secret once.
#[utoipa::path(post, path = "/api/v1/hooks/sources", tag = "hooks", request_body = CreateHookSource,
    security(("bearer" = [])),
    responses((status = 201, body = HookSourceWithSecret), (status = 403, body = Problem), (status = 409, body = Problem),
        (status = 422, body = Problem)))]
pub async fn create_source(
    state: web::Data<AppState>,
    caller: Caller,
    body: Body<CreateHookSource>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Action::ManageIntegrations, "manage ticketing sources")?;
    let b = body.into_inner();
    let new = NewHookSource::parse(
        &b.name,
        b.display_name.as_deref(),
        b.style.as_deref(),
        b.default_org_id.map(OrgId::from_uuid),
    )?;
    let (secret, generated) = secret_for(new.style, b.secret.as_deref())?;
    let hint = signature::hint(&secret);
    let source = state
        .store
        .create_hook_source(new, &secret, hint, state.secret_box.as_ref(), state.clock.now())
        .await
        .map_err(source_error)?;
    let secret_id = source.secrets.first().map(|s| s.id).unwrap_or_default();
    Ok(HttpResponse::Created().json(HookSourceWithSecret {
        source: HookSourceDto::new(source, &state.settings.public_url),
        secret_id,
        secret: generated.then_some(secret),
    }))
}

/// List ticketing systems (admins and TAMs).
#[utoipa::path(get, path = "/api/v1/hooks/sources", tag = "hooks", security(("bearer" = [])),
    responses((status = 200, body = HookSourceList), (status = 403, body = Problem)))]
pub async fn list_sources(state: web::Data<AppState>, caller: Caller) -> Result<HttpResponse, ApiError> {
    caller.require(Action::ReadIntegrations, "read ticketing sources")?;
    let items = state.store.list_hook_sources().await?;
    let public = &state.settings.public_url;
    Ok(HttpResponse::Ok()
        .json(HookSourceList { items: items.into_iter().map(|s| HookSourceDto::new(s, public)).collect() }))
}

/// Read one ticketing system.
#[utoipa::path(get, path = "/api/v1/hooks/sources/{name}", tag = "hooks",
    params(("name" = String, Path, description = "Source name")), security(("bearer" = [])),
    responses((status = 200, body = HookSourceDto), (status = 404, body = Problem)))]
pub async fn get_source(
    state: web::Data<AppState>,
    caller: Caller,
    name: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Action::ReadIntegrations, "read ticketing sources")?;
    let source = state.store.hook_source(&name).await.map_err(source_error)?;
    Ok(HttpResponse::Ok().json(HookSourceDto::new(source, &state.settings.public_url)))
}

/// Change a ticketing system (admins only): its name for people, style, default
/// organisation, or turn it off and on.
#[utoipa::path(patch, path = "/api/v1/hooks/sources/{name}", tag = "hooks",
    params(("name" = String, Path, description = "Source name")), request_body = UpdateHookSource,
    security(("bearer" = [])),
    responses((status = 200, body = HookSourceDto), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn update_source(
    state: web::Data<AppState>,
    caller: Caller,
    name: web::Path<String>,
    body: Body<UpdateHookSource>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Action::ManageIntegrations, "manage ticketing sources")?;
    let b = body.into_inner();
    let patch = HookSourcePatch::parse(
        b.display_name.as_deref(),
        b.style.as_deref(),
        b.default_org_id.map(|o| o.map(OrgId::from_uuid)),
        b.enabled,
    )?;
    let source = state.store.update_hook_source(&name, patch, state.clock.now()).await.map_err(source_error)?;
    Ok(HttpResponse::Ok().json(HookSourceDto::new(source, &state.settings.public_url)))
}

/// Remove a ticketing system (admins only). Its tickets keep their external references.
#[utoipa::path(delete, path = "/api/v1/hooks/sources/{name}", tag = "hooks",
    params(("name" = String, Path, description = "Source name")), security(("bearer" = [])),
    responses((status = 204, description = "Removed"), (status = 404, body = Problem)))]
pub async fn delete_source(
    state: web::Data<AppState>,
    caller: Caller,
    name: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Action::ManageIntegrations, "manage ticketing sources")?;
    state.store.delete_hook_source(&name).await.map_err(source_error)?;
    Ok(HttpResponse::NoContent().finish())
}

/// Add a secret to a source (admins only), to rotate without downtime: add the new one,
/// switch the ticketing system to it (deliveries signed with either are accepted), then
/// remove the old one. Two at most (409 `hook_source_secrets_full`).
#[utoipa::path(post, path = "/api/v1/hooks/sources/{name}/secrets", tag = "hooks",
    params(("name" = String, Path, description = "Source name")), request_body = AddHookSecret,
    security(("bearer" = [])),
    responses((status = 201, body = HookSourceWithSecret), (status = 404, body = Problem), (status = 409, body = Problem),
        (status = 422, body = Problem)))]
pub async fn add_secret(
    state: web::Data<AppState>,
    caller: Caller,
    name: web::Path<String>,
    body: Body<AddHookSecret>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Action::ManageIntegrations, "manage ticketing sources")?;
    let current = state.store.hook_source(&name).await.map_err(source_error)?;
    let (secret, generated) = secret_for(current.style, body.0.secret.as_deref())?;
    let hint = signature::hint(&secret);
    let (source, info) = state
        .store
        .add_hook_source_secret(&name, &secret, hint, state.secret_box.as_ref(), state.clock.now())
        .await
        .map_err(source_error)?;
    Ok(HttpResponse::Created().json(HookSourceWithSecret {
        source: HookSourceDto::new(source, &state.settings.public_url),
        secret_id: info.id,
        secret: generated.then_some(secret),
    }))
}

/// Remove one of a source's secrets (admins only); its last one stays (409
/// `hook_source_last_secret`).
#[utoipa::path(delete, path = "/api/v1/hooks/sources/{name}/secrets/{secret_id}", tag = "hooks",
    params(("name" = String, Path, description = "Source name"), ("secret_id" = Uuid, Path, description = "Secret id")),
    security(("bearer" = [])),
    responses((status = 200, body = HookSourceDto), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn remove_secret(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Action::ManageIntegrations, "manage ticketing sources")?;
    let (name, raw) = path.into_inner();
    let id = raw.parse::<Uuid>().map_err(|_| ApiError::NotFound {
        code: "hook_secret_not_found",
        detail: format!("{raw:?} is not a valid id"),
    })?;
    let source = state.store.remove_hook_source_secret(&name, id).await.map_err(source_error)?;
    Ok(HttpResponse::Ok().json(HookSourceDto::new(source, &state.settings.public_url)))
}

/// One delivery as received.
#[derive(Debug, Serialize, ToSchema)]
pub struct HookReceiptDto {
    /// The delivery id.
    pub delivery_id: String,
    /// Its type.
    #[serde(rename = "type")]
    pub event_type: String,
    /// The source's ticket id.
    pub external_id: String,
    /// `processing` or `done`.
    pub state: String,
    /// What it did.
    pub outcome: Option<String>,
    /// The desk ticket.
    pub ticket_id: Option<Uuid>,
    /// When it arrived.
    pub received_at: DateTime<Utc>,
    /// When it was applied.
    pub finished_at: Option<DateTime<Utc>>,
}

impl From<HookReceipt> for HookReceiptDto {
    fn from(r: HookReceipt) -> Self {
        Self {
            delivery_id: r.delivery_id,
            event_type: r.event_type,
            external_id: r.external_id,
            state: r.state,
            outcome: r.outcome,
            ticket_id: r.ticket_id.map(|t| t.as_uuid()),
            received_at: r.received_at,
            finished_at: r.finished_at,
        }
    }
}

/// A page of deliveries, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct HookReceiptList {
    /// The deliveries.
    pub items: Vec<HookReceiptDto>,
    /// Pass as `cursor` for the next page; null on the last.
    pub next_cursor: Option<String>,
}

/// What a source delivered (applied deliveries are kept 30 days; refused ones are not
/// recorded, their reasons are in the log).
#[utoipa::path(get, path = "/api/v1/hooks/sources/{name}/deliveries", tag = "hooks",
    params(("name" = String, Path, description = "Source name"), PageParams), security(("bearer" = [])),
    responses((status = 200, body = HookReceiptList), (status = 400, body = Problem), (status = 404, body = Problem)))]
pub async fn source_deliveries(
    state: web::Data<AppState>,
    caller: Caller,
    name: web::Path<String>,
    page: Query<PageParams>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Action::ReadIntegrations, "read ticketing sources")?;
    state.store.hook_source(&name).await.map_err(source_error)?;
    let page = page.0.to_request(&desk_store::Store::hook_receipts_scope(&name))?;
    let page = state.store.list_hook_receipts(&name, &page).await?;
    Ok(HttpResponse::Ok().json(HookReceiptList {
        items: page.items.into_iter().map(HookReceiptDto::from).collect(),
        next_cursor: page.next_cursor,
    }))
}
