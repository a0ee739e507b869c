//! `/api/v1/hooks/subscriptions`: webhooks out. Admins subscribe URLs to event types;
//! every delivery is signed (Standard Webhooks, the subscription's own secret), retried
//! with backoff for a day, and recorded: `/api/v1/hooks/deliveries`.
#![expect(
    unused_qualifications,
    reason = "utoipa's `params(Type)` expansion qualifies the type with the span of our tokens"
)]

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use desk_core::webhooks::{
    Delivery, DeliveryState, EventType, NewSubscription, Subscription, SubscriptionInput, SubscriptionPatch,
};
use desk_core::{Action, OrgId};
use desk_store::hooks::{DeliveryFilter, SubscriptionCounts};
use desk_store::{Store, StoreError};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::PageParams;
use crate::auth::Caller;
use crate::error::{ApiError, Problem};
use crate::extract::{Body, IdPath, Query, double_option};
use crate::hooks::payload::WebhookEventType;
use crate::hooks::{ROTATION_GRACE, signature};
use crate::state::AppState;

/// How a subscription's deliveries stand.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryCountsDto {
    /// Waiting or being attempted.
    pub pending: u64,
    /// Taken by the subscriber.
    pub delivered: u64,
    /// Given up (retry them over `/api/v1/hooks/deliveries/{id}/retry`).
    pub failed: u64,
}

/// A webhook subscription (its secret is never shown again after it was made).
#[derive(Debug, Serialize, ToSchema)]
pub struct SubscriptionDto {
    /// Id.
    pub id: Uuid,
    /// Where deliveries are POSTed.
    pub url: String,
    /// For people.
    pub description: String,
    /// The event types it gets (`["*"]`: all, including ones added later).
    pub event_types: Vec<String>,
    /// Only this organisation's tickets, when set.
    pub org_id: Option<Uuid>,
    /// Changes made by this ticketing source's own hooks are not sent (they came from it).
    pub skip_source: Option<String>,
    /// Whether new events are delivered.
    pub enabled: bool,
    /// Why the desk turned it off (the subscriber answered `410 Gone`).
    pub disabled_reason: Option<String>,
    /// The signing secret's first characters.
    pub secret_hint: String,
    /// Until when the previous secret also signs (after a rotation).
    pub previous_secret_until: Option<DateTime<Utc>>,
    /// Its deliveries.
    pub deliveries: DeliveryCountsDto,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
}

impl SubscriptionDto {
    fn new(s: Subscription, counts: SubscriptionCounts) -> Self {
        Self {
            id: s.id,
            url: s.url,
            description: s.description,
            event_types: s.events.names(),
            org_id: s.org_id.map(|o| o.as_uuid()),
            skip_source: s.skip_source,
            enabled: s.enabled,
            disabled_reason: s.disabled_reason,
            secret_hint: s.secret_hint,
            previous_secret_until: s.previous_secret_until,
            deliveries: DeliveryCountsDto {
                pending: counts.pending,
                delivered: counts.delivered,
                failed: counts.failed,
            },
            created_at: s.created_at,
            updated_at: s.updated_at,
        }
    }
}

/// A subscription with its new signing secret: the only time the secret is shown.
#[derive(Debug, Serialize, ToSchema)]
pub struct SubscriptionWithSecret {
    /// The subscription.
    pub subscription: SubscriptionDto,
    /// `whsec_…`: verify `webhook-signature` with it (Standard Webhooks). Shown once.
    pub secret: String,
}

/// All subscriptions.
#[derive(Debug, Serialize, ToSchema)]
pub struct SubscriptionList {
    /// The subscriptions, oldest first.
    pub items: Vec<SubscriptionDto>,
}

/// A URL to subscribe.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateSubscription {
    /// An absolute http(s) URL.
    pub url: String,
    /// For people.
    pub description: Option<String>,
    /// Event types (see `WebhookEventType`), or `["*"]` for all.
    #[schema(value_type = Vec<String>, example = json!(["ticket.created", "ticket.updated"]))]
    pub event_types: Vec<String>,
    /// Only this organisation's tickets.
    pub org_id: Option<Uuid>,
    /// Leave out changes made by this ticketing source's own hooks (set it to the source
    /// the URL belongs to, so its own changes do not echo back).
    pub skip_source: Option<String>,
}

/// Changes to a subscription.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateSubscription {
    /// New URL.
    pub url: Option<String>,
    /// New description.
    pub description: Option<String>,
    /// New event types.
    pub event_types: Option<Vec<String>>,
    /// Only this organisation's tickets (null: every organisation).
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<Uuid>)]
    pub org_id: Option<Option<Uuid>>,
    /// The source whose own changes are left out (null: none).
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub skip_source: Option<Option<String>>,
    /// Deliver new events (also to turn it back on after the desk turned it off).
    pub enabled: Option<bool>,
}

fn subscription_error(e: StoreError) -> ApiError {
    match e {
        StoreError::NotFound { entity: "subscription", .. } => {
            ApiError::NotFound { code: "subscription_not_found", detail: e.to_string() }
        }
        StoreError::NotFound { entity: "webhook_delivery", .. } => {
            ApiError::NotFound { code: "webhook_delivery_not_found", detail: e.to_string() }
        }
        other => other.into(),
    }
}

async fn dto(state: &AppState, s: Subscription) -> Result<SubscriptionDto, ApiError> {
    let counts = state.store.subscription_counts().await?.remove(&s.id).unwrap_or_default();
    Ok(SubscriptionDto::new(s, counts))
}

/// Subscribe a URL to event types (admins only). The answer shows the signing secret once.
/// A subscription hears of changes committed after it was made.
#[utoipa::path(post, path = "/api/v1/hooks/subscriptions", tag = "webhooks", request_body = CreateSubscription,
    security(("bearer" = [])),
    responses((status = 201, body = SubscriptionWithSecret), (status = 403, body = Problem), (status = 409, body = Problem),
        (status = 422, body = Problem)))]
pub async fn create(
    state: web::Data<AppState>,
    caller: Caller,
    body: Body<CreateSubscription>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Action::ManageIntegrations, "manage webhook subscriptions")?;
    let b = body.into_inner();
    let types: Vec<&str> = b.event_types.iter().map(String::as_str).collect();
    let new = NewSubscription::parse(SubscriptionInput {
        url: Some(&b.url),
        description: b.description.as_deref(),
        event_types: Some(&types),
        org_id: Some(b.org_id.map(OrgId::from_uuid)),
        skip_source: Some(b.skip_source.as_deref()),
        enabled: None,
    })?;
    let secret = signature::generate(desk_core::hooks::HookStyle::StandardWebhooks);
    let hint = signature::hint(&secret);
    let sub = state.store.create_subscription(new, &secret, hint, state.secret_box.as_ref(), state.clock.now()).await?;
    Ok(HttpResponse::Created().json(SubscriptionWithSecret { subscription: dto(&state, sub).await?, secret }))
}

/// List subscriptions with their delivery counts (admins and TAMs).
#[utoipa::path(get, path = "/api/v1/hooks/subscriptions", tag = "webhooks", security(("bearer" = [])),
    responses((status = 200, body = SubscriptionList), (status = 403, body = Problem)))]
pub async fn list(state: web::Data<AppState>, caller: Caller) -> Result<HttpResponse, ApiError> {
    caller.require(Action::ReadIntegrations, "read webhook subscriptions")?;
    let mut counts = state.store.subscription_counts().await?;
    let items = state
        .store
        .list_subscriptions()
        .await?
        .into_iter()
        .map(|s| {
            let c = counts.remove(&s.id).unwrap_or_default();
            SubscriptionDto::new(s, c)
        })
        .collect();
    Ok(HttpResponse::Ok().json(SubscriptionList { items }))
}

/// Read one subscription.
#[utoipa::path(get, path = "/api/v1/hooks/subscriptions/{id}", tag = "webhooks",
    params(("id" = Uuid, Path, description = "Subscription id")), security(("bearer" = [])),
    responses((status = 200, body = SubscriptionDto), (status = 404, body = Problem)))]
pub async fn get(state: web::Data<AppState>, caller: Caller, id: IdPath<Uuid>) -> Result<HttpResponse, ApiError> {
    caller.require(Action::ReadIntegrations, "read webhook subscriptions")?;
    let sub = state.store.subscription(id.0).await.map_err(subscription_error)?;
    Ok(HttpResponse::Ok().json(dto(&state, sub).await?))
}

/// Change a subscription (admins only).
#[utoipa::path(patch, path = "/api/v1/hooks/subscriptions/{id}", tag = "webhooks",
    params(("id" = Uuid, Path, description = "Subscription id")), request_body = UpdateSubscription,
    security(("bearer" = [])),
    responses((status = 200, body = SubscriptionDto), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn update(
    state: web::Data<AppState>,
    caller: Caller,
    id: IdPath<Uuid>,
    body: Body<UpdateSubscription>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Action::ManageIntegrations, "manage webhook subscriptions")?;
    let b = body.into_inner();
    let types: Option<Vec<&str>> = b.event_types.as_ref().map(|t| t.iter().map(String::as_str).collect());
    let patch = SubscriptionPatch::parse(SubscriptionInput {
        url: b.url.as_deref(),
        description: b.description.as_deref(),
        event_types: types.as_deref(),
        org_id: b.org_id.map(|o| o.map(OrgId::from_uuid)),
        skip_source: b.skip_source.as_ref().map(|s| s.as_deref()),
        enabled: b.enabled,
    })?;
    let sub = state.store.update_subscription(id.0, patch, state.clock.now()).await.map_err(subscription_error)?;
    Ok(HttpResponse::Ok().json(dto(&state, sub).await?))
}

/// Remove a subscription and its deliveries (admins only).
#[utoipa::path(delete, path = "/api/v1/hooks/subscriptions/{id}", tag = "webhooks",
    params(("id" = Uuid, Path, description = "Subscription id")), security(("bearer" = [])),
    responses((status = 204, description = "Removed"), (status = 404, body = Problem)))]
pub async fn delete(state: web::Data<AppState>, caller: Caller, id: IdPath<Uuid>) -> Result<HttpResponse, ApiError> {
    caller.require(Action::ManageIntegrations, "manage webhook subscriptions")?;
    state.store.delete_subscription(id.0).await.map_err(subscription_error)?;
    Ok(HttpResponse::NoContent().finish())
}

/// Give a subscription a new signing secret (admins only), shown once. For 24 hours
/// deliveries carry a signature under the old secret too, so the subscriber can switch.
#[utoipa::path(post, path = "/api/v1/hooks/subscriptions/{id}/rotate-secret", tag = "webhooks",
    params(("id" = Uuid, Path, description = "Subscription id")), security(("bearer" = [])),
    responses((status = 200, body = SubscriptionWithSecret), (status = 404, body = Problem)))]
pub async fn rotate_secret(
    state: web::Data<AppState>,
    caller: Caller,
    id: IdPath<Uuid>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Action::ManageIntegrations, "manage webhook subscriptions")?;
    let secret = signature::generate(desk_core::hooks::HookStyle::StandardWebhooks);
    let hint = signature::hint(&secret);
    let sub = state
        .store
        .rotate_subscription_secret(id.0, &secret, hint, ROTATION_GRACE, state.secret_box.as_ref(), state.clock.now())
        .await
        .map_err(subscription_error)?;
    Ok(HttpResponse::Ok().json(SubscriptionWithSecret { subscription: dto(&state, sub).await?, secret }))
}

// ---- deliveries ---------------------------------------------------------------------------

/// One event on its way to one subscriber.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookDeliveryDto {
    /// Id: the `webhook-id` header, the same on every attempt.
    pub id: Uuid,
    /// The subscription.
    pub subscription_id: Uuid,
    /// The ticket timeline entry it announces.
    pub event_id: Uuid,
    /// Its type.
    pub event_type: String,
    /// The ticket.
    pub ticket_id: Option<Uuid>,
    /// `pending`, `delivered` or `failed` (given up after a day, or on `410 Gone`).
    pub state: String,
    /// Attempts made.
    pub attempts: u32,
    /// The subscriber's last HTTP status.
    pub last_status: Option<u16>,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    /// When it was last attempted.
    pub last_attempt_at: Option<DateTime<Utc>>,
    /// When the next attempt is due (pending only).
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// When the subscriber took it.
    pub delivered_at: Option<DateTime<Utc>>,
    /// Made.
    pub created_at: DateTime<Utc>,
}

impl From<Delivery> for WebhookDeliveryDto {
    fn from(d: Delivery) -> Self {
        Self {
            id: d.id,
            subscription_id: d.subscription_id,
            event_id: d.event_id,
            event_type: d.event_type,
            ticket_id: d.ticket_id,
            state: d.state.as_str().to_owned(),
            attempts: d.attempts,
            last_status: d.last_status,
            last_error: d.last_error,
            last_attempt_at: d.last_attempt_at,
            next_attempt_at: d.next_attempt_at,
            delivered_at: d.delivered_at,
            created_at: d.created_at,
        }
    }
}

/// A delivery with the message it carries.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookDeliveryDetail {
    /// The delivery.
    pub delivery: WebhookDeliveryDto,
    /// The message, exactly as sent (a `WebhookMessage`).
    #[schema(value_type = Object)]
    pub message: serde_json::Value,
}

/// A page of deliveries, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookDeliveryList {
    /// The deliveries.
    pub items: Vec<WebhookDeliveryDto>,
    /// Pass as `cursor` for the next page; null on the last.
    pub next_cursor: Option<String>,
}

/// Filters for a subscription's deliveries.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DeliveryQuery {
    /// `pending`, `delivered` or `failed`.
    pub state: Option<String>,
    /// About this ticket.
    pub ticket_id: Option<Uuid>,
    /// Rows per page, 1–200.
    pub limit: Option<u64>,
    /// Cursor from the previous page.
    pub cursor: Option<String>,
}

/// A subscription's deliveries: status, attempts, last error, next attempt (admins and TAMs).
#[utoipa::path(get, path = "/api/v1/hooks/subscriptions/{id}/deliveries", tag = "webhooks",
    params(("id" = Uuid, Path, description = "Subscription id"), DeliveryQuery), security(("bearer" = [])),
    responses((status = 200, body = WebhookDeliveryList), (status = 400, body = Problem), (status = 404, body = Problem)))]
pub async fn deliveries(
    state: web::Data<AppState>,
    caller: Caller,
    id: IdPath<Uuid>,
    query: Query<DeliveryQuery>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Action::ReadIntegrations, "read webhook deliveries")?;
    state.store.subscription(id.0).await.map_err(subscription_error)?;
    let q = query.0;
    let page = PageParams { limit: q.limit, cursor: q.cursor }.to_request(Store::WEBHOOK_DELIVERIES_SCOPE)?;
    let filter = DeliveryFilter {
        subscription_id: Some(id.0),
        state: q
            .state
            .as_deref()
            .map(|s| {
                DeliveryState::parse(s)
                    .ok_or_else(|| ApiError::bad_query("state", "must be pending, delivered or failed"))
            })
            .transpose()?,
        ticket_id: q.ticket_id,
    };
    let page = state.store.list_webhook_deliveries(&filter, &page).await?;
    Ok(HttpResponse::Ok().json(WebhookDeliveryList {
        items: page.items.into_iter().map(WebhookDeliveryDto::from).collect(),
        next_cursor: page.next_cursor,
    }))
}

/// Read one delivery with its message.
#[utoipa::path(get, path = "/api/v1/hooks/deliveries/{id}", tag = "webhooks",
    params(("id" = Uuid, Path, description = "Delivery id")), security(("bearer" = [])),
    responses((status = 200, body = WebhookDeliveryDetail), (status = 404, body = Problem)))]
pub async fn delivery(state: web::Data<AppState>, caller: Caller, id: IdPath<Uuid>) -> Result<HttpResponse, ApiError> {
    caller.require(Action::ReadIntegrations, "read webhook deliveries")?;
    let (d, payload) = state.store.webhook_delivery(id.0).await.map_err(subscription_error)?;
    let message = serde_json::from_str(&payload).unwrap_or(serde_json::Value::String(payload));
    Ok(HttpResponse::Ok().json(WebhookDeliveryDetail { delivery: WebhookDeliveryDto::from(d), message }))
}

/// Send a given-up delivery again, from a fresh day of retries (admins only). Anything
/// but a failed delivery is a 409 `webhook_delivery_not_failed`.
#[utoipa::path(post, path = "/api/v1/hooks/deliveries/{id}/retry", tag = "webhooks",
    params(("id" = Uuid, Path, description = "Delivery id")), security(("bearer" = [])),
    responses((status = 200, body = WebhookDeliveryDto), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn retry(state: web::Data<AppState>, caller: Caller, id: IdPath<Uuid>) -> Result<HttpResponse, ApiError> {
    caller.require(Action::ManageIntegrations, "retry webhook deliveries")?;
    let d = state.store.retry_webhook_delivery(id.0, state.clock.now()).await.map_err(subscription_error)?;
    Ok(HttpResponse::Ok().json(WebhookDeliveryDto::from(d)))
}

/// One event type.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventTypeDto {
    /// Its name.
    pub name: WebhookEventType,
    /// What it means.
    pub description: String,
}

/// Every event type.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventTypeList {
    /// The types.
    pub items: Vec<EventTypeDto>,
}

/// The event types a subscription can name (also in this document as `WebhookEventType`).
#[utoipa::path(get, path = "/api/v1/hooks/event-types", tag = "webhooks", security(("bearer" = [])),
    responses((status = 200, body = EventTypeList), (status = 401, body = Problem)))]
pub async fn event_types(_caller: Caller) -> Result<HttpResponse, ApiError> {
    let items = EventType::ALL
        .into_iter()
        .filter_map(|t| {
            let name = serde_json::from_value(serde_json::Value::String(t.as_str().to_owned())).ok()?;
            Some(EventTypeDto { name, description: t.description().to_owned() })
        })
        .collect();
    Ok(HttpResponse::Ok().json(EventTypeList { items }))
}
