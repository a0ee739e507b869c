//! `/api/v1/notifications`: the cards on their way to people and chats, what was sent,
//! what was parked and why; an admin retries a parked one. `/api/v1/notification-rules`
//! shows who is told what.
#![expect(
    unused_qualifications,
    reason = "utoipa's generated code for the list's params spells out a path the lint flags"
)]

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use desk_core::Action;
use desk_core::notify::{self, Delivery, DeliveryState, Recipient};
use desk_store::{DeliveryFilter, Store};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::PageParams;
use crate::auth::Caller;
use crate::error::{ApiError, Problem};
use crate::extract::{IdPath, Query};
use crate::state::AppState;

/// One card for one recipient: a single notification, or a digest of several.
#[derive(Debug, Serialize, ToSchema)]
pub struct NotificationDto {
    /// Id; also the `uuid` that makes the Lark call idempotent.
    pub id: Uuid,
    /// The integration (Lark app) it goes through.
    pub integration_id: String,
    /// `person:<id>` or `chat:<chat_id>`.
    pub recipient: String,
    /// Priority class: `emergency`, `action`, `state_change`, `response_warning`, `digest`, `cosmetic`.
    pub class: String,
    /// `card` (one ticket) or `digest`.
    pub kind: String,
    /// How many notifications it carries.
    pub items: u32,
    /// `ready`, `sent` or `parked`.
    pub state: String,
    /// Attempts made.
    pub attempts: u32,
    /// Why the last attempt failed (or why it waits).
    pub last_error: Option<String>,
    /// Lark's message id, once sent.
    pub message_id: Option<String>,
    /// Composed.
    pub created_at: DateTime<Utc>,
    /// When the next attempt is due (ready only).
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// When Lark accepted it.
    pub sent_at: Option<DateTime<Utc>>,
}

impl From<Delivery> for NotificationDto {
    fn from(d: Delivery) -> Self {
        Self {
            id: d.id,
            integration_id: d.integration_id,
            recipient: d.recipient.key(),
            class: d.class.as_str().to_owned(),
            kind: d.kind,
            items: d.items,
            state: d.state.as_str().to_owned(),
            attempts: d.attempts,
            last_error: d.last_error,
            message_id: d.message_id,
            created_at: d.created_at,
            next_attempt_at: (d.state == DeliveryState::Ready).then_some(d.next_attempt_at),
            sent_at: d.sent_at,
        }
    }
}

/// A page of notifications, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct NotificationList {
    /// The notifications.
    pub items: Vec<NotificationDto>,
    /// Pass as `cursor` for the next page; null on the last.
    pub next_cursor: Option<String>,
}

/// Filters for the notification list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct NotificationQuery {
    /// `ready`, `sent` or `parked`.
    pub state: Option<String>,
    /// Through this integration.
    pub integration_id: Option<String>,
    /// To this recipient: `person:<id>` or `chat:<chat_id>`.
    pub recipient: Option<String>,
    /// Rows per page, 1–200.
    pub limit: Option<u64>,
    /// Cursor from the previous page.
    pub cursor: Option<String>,
}

/// List notifications (admins and TAMs).
#[utoipa::path(get, path = "/api/v1/notifications", tag = "notifications", params(NotificationQuery),
    security(("bearer" = [])), responses((status = 200, body = NotificationList), (status = 400, body = Problem),
        (status = 403, body = Problem)))]
pub async fn list(
    state: web::Data<AppState>,
    caller: Caller,
    query: Query<NotificationQuery>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Action::ReadIntegrations, "read notifications")?;
    let q = query.0;
    let page = PageParams { limit: q.limit, cursor: q.cursor }.to_request(Store::DELIVERIES_SCOPE)?;
    let filter = DeliveryFilter {
        state: q
            .state
            .as_deref()
            .map(|s| {
                DeliveryState::parse(s).ok_or_else(|| ApiError::bad_query("state", "must be ready, sent or parked"))
            })
            .transpose()?,
        integration_id: q.integration_id,
        recipient: q
            .recipient
            .map(|r| {
                Recipient::parse(&r)
                    .map(|r| r.key())
                    .ok_or_else(|| ApiError::bad_query("recipient", "must be person:<uuid> or chat:<chat_id>"))
            })
            .transpose()?,
    };
    let page = state.store.list_deliveries(&filter, &page).await?;
    Ok(HttpResponse::Ok().json(NotificationList {
        items: page.items.into_iter().map(NotificationDto::from).collect(),
        next_cursor: page.next_cursor,
    }))
}

/// Read one notification.
#[utoipa::path(get, path = "/api/v1/notifications/{id}", tag = "notifications",
    params(("id" = Uuid, Path, description = "Notification id")), security(("bearer" = [])),
    responses((status = 200, body = NotificationDto), (status = 404, body = Problem)))]
pub async fn get(state: web::Data<AppState>, caller: Caller, id: IdPath<Uuid>) -> Result<HttpResponse, ApiError> {
    caller.require(Action::ReadIntegrations, "read notifications")?;
    Ok(HttpResponse::Ok().json(NotificationDto::from(state.store.delivery(id.0).await?)))
}

/// Retry a parked notification now, from its first attempt (admins only). Anything but
/// a parked notification is a 409 `not_parked`.
#[utoipa::path(post, path = "/api/v1/notifications/{id}/retry", tag = "notifications",
    params(("id" = Uuid, Path, description = "Notification id")), security(("bearer" = [])),
    responses((status = 200, body = NotificationDto), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem)))]
pub async fn retry(state: web::Data<AppState>, caller: Caller, id: IdPath<Uuid>) -> Result<HttpResponse, ApiError> {
    caller.require(Action::ManageIntegrations, "retry notifications")?;
    let delivery = state.store.retry_delivery(id.0, state.clock.now()).await?;
    tracing::info!(notification.id = %delivery.id, "parked notification retried by an admin");
    Ok(HttpResponse::Ok().json(NotificationDto::from(delivery)))
}

/// One line of the notification policy.
#[derive(Debug, Serialize, ToSchema)]
pub struct RuleDto {
    /// What happened: `ticket_created`, `ticket_assigned`, `status_changed`, `customer_comment`,
    /// `staff_comment`, `internal_comment`, `escalated`, `emergency_declared`, `emergency_acknowledged`.
    #[schema(value_type = String)]
    pub trigger: notify::Trigger,
    /// Who is told: `assignee`, `new_assignee`, `tam`, `ticket_group`, `requester`.
    #[schema(value_type = String)]
    pub audience: notify::Audience,
    /// The priority class.
    #[schema(value_type = String)]
    pub class: notify::NotifyClass,
}

/// The notification policy.
#[derive(Debug, Serialize, ToSchema)]
pub struct RuleList {
    /// Who is told what.
    pub items: Vec<RuleDto>,
    /// At most one notification per recipient per this many seconds; more waits for a digest.
    pub window_seconds: u64,
}

/// Who is told what, as the dispatcher applies it.
#[utoipa::path(get, path = "/api/v1/notification-rules", tag = "notifications", security(("bearer" = [])),
    responses((status = 200, body = RuleList), (status = 401, body = Problem)))]
pub async fn rules(state: web::Data<AppState>, _caller: Caller) -> Result<HttpResponse, ApiError> {
    let items =
        notify::RULES.iter().map(|r| RuleDto { trigger: r.trigger, audience: r.audience, class: r.class }).collect();
    Ok(HttpResponse::Ok().json(RuleList { items, window_seconds: state.settings.notify_window.as_secs() }))
}
