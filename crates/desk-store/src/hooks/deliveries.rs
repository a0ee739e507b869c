//! Webhook deliveries: claimed under a lease, recorded after each attempt, retried on the
//! schedule of `desk_core::webhooks::next_attempt`, listed over REST.
//!
//! Order: a delivery is only claimed when no earlier delivery (by event) of the same
//! ticket to the same subscriber is still pending. So each subscriber gets a ticket's
//! events one at a time and in order, even across instances, while other tickets and
//! other subscribers go on at their own pace. A delivery that fails holds back the later
//! ones of its ticket (to that subscriber only) until it is delivered or given up.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use chrono::{DateTime, Utc};
use desk_core::webhooks::{Delivery, DeliveryState, next_attempt};
use rand::seq::SliceRandom as _;
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Query};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use uuid::Uuid;

use super::entity::{webhook_delivery, webhook_subscription};
use super::subscriptions::{SigningKeys, keys_of};
use crate::pagination::{Page, PageRequest};
use crate::queue::{self, Leased};
use crate::secrets::{SealError, SecretBox};
use crate::{Store, StoreError};

const PENDING: &str = "pending";

/// A delivery claimed for one attempt.
#[derive(Debug, Clone)]
pub struct ClaimedDelivery {
    /// Its id: the `webhook-id` header.
    pub id: Uuid,
    /// The subscription.
    pub subscription_id: Uuid,
    /// Where to POST it.
    pub url: String,
    /// The message, exactly as first made.
    pub payload: String,
    /// Its type.
    pub event_type: String,
    /// The ticket.
    pub ticket_id: Option<Uuid>,
    /// This attempt's number (1 = first).
    pub attempt: u32,
    /// What to sign it with.
    pub keys: SigningKeys,
}

/// What one attempt came to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AttemptOutcome {
    /// The subscriber's HTTP status, if it answered.
    pub status: Option<u16>,
    /// Why it failed (a non-2xx status, a timeout, a refused connection).
    pub error: Option<String>,
    /// The subscriber's `Retry-After`, if it gave one.
    pub retry_after: Option<Duration>,
}

impl AttemptOutcome {
    /// Whether the subscriber took it (any 2xx).
    pub fn is_success(&self) -> bool {
        self.error.is_none() && self.status.is_some_and(|s| (200..300).contains(&s))
    }

    /// Whether the subscriber asked never to be sent anything again (`410 Gone`, as
    /// Standard Webhooks defines it).
    pub fn is_gone(&self) -> bool {
        self.status == Some(410)
    }
}

/// Which deliveries to list.
#[derive(Debug, Clone, Default)]
pub struct DeliveryFilter {
    /// Of this subscription.
    pub subscription_id: Option<Uuid>,
    /// In this state.
    pub state: Option<DeliveryState>,
    /// About this ticket.
    pub ticket_id: Option<Uuid>,
}

/// How a subscription's deliveries stand.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SubscriptionCounts {
    /// Waiting or being attempted.
    pub pending: u64,
    /// Taken by the subscriber.
    pub delivered: u64,
    /// Given up.
    pub failed: u64,
}

fn to_domain(m: webhook_delivery::Model) -> Result<Delivery, StoreError> {
    let state = DeliveryState::parse(&m.state)
        .ok_or_else(|| StoreError::corrupt("webhook_deliveries", format!("state {}", m.state)))?;
    Ok(Delivery {
        id: m.id,
        subscription_id: m.subscription_id,
        event_id: m.event_id,
        event_type: m.event_type,
        ticket_id: m.ticket_id,
        state,
        attempts: u32::try_from(m.attempts).unwrap_or(0),
        last_status: m.last_status.and_then(|s| u16::try_from(s).ok()),
        last_error: m.last_error,
        last_attempt_at: m.last_attempt_at,
        next_attempt_at: (state == DeliveryState::Pending).then_some(m.next_attempt_at),
        delivered_at: m.delivered_at,
        created_at: m.created_at,
    })
}

impl Leased for webhook_delivery::Entity {
    const ID: webhook_delivery::Column = webhook_delivery::Column::Id;
    const LEASE_UNTIL: webhook_delivery::Column = webhook_delivery::Column::LeaseUntil;
    const ATTEMPTS: webhook_delivery::Column = webhook_delivery::Column::Attempts;
    const TOUCHED_AT: Option<webhook_delivery::Column> = Some(webhook_delivery::Column::LastAttemptAt);
}

/// Due, pending and not leased (a lapsed lease counts as not leased: its holder died).
fn due(now: DateTime<Utc>) -> sea_orm::Condition {
    sea_orm::Condition::all()
        .add(webhook_delivery::Column::State.eq(PENDING))
        .add(webhook_delivery::Column::NextAttemptAt.lte(now))
        .add(webhook_delivery::Column::LeaseUntil.is_null().or(webhook_delivery::Column::LeaseUntil.lte(now)))
}

/// No earlier delivery of the same ticket to the same subscriber is still pending.
fn first_of_its_ticket() -> sea_orm::sea_query::SimpleExpr {
    let earlier = Alias::new("earlier");
    let d = webhook_delivery::Entity;
    let exists = Query::select()
        .expr(Expr::val(1))
        .from_as(d, earlier.clone())
        .and_where(
            Expr::col((earlier.clone(), webhook_delivery::Column::SubscriptionId))
                .equals((d, webhook_delivery::Column::SubscriptionId)),
        )
        .and_where(
            Expr::col((earlier.clone(), webhook_delivery::Column::TicketId))
                .equals((d, webhook_delivery::Column::TicketId)),
        )
        .and_where(Expr::col((earlier.clone(), webhook_delivery::Column::State)).eq(PENDING))
        .and_where(
            Expr::col((earlier, webhook_delivery::Column::EventId))
                .lt(Expr::col((d, webhook_delivery::Column::EventId))),
        )
        .to_owned();
    Expr::exists(exists).not()
}

impl Store {
    /// Claims due deliveries for one attempt each, leasing them for `lease`: at most
    /// `total`, and per subscription at most `per_subscription` less what `in_flight`
    /// says this process is already sending to it. Deliveries in `skip` (being sent by
    /// this process) are never claimed again, whatever the clock says.
    #[expect(clippy::too_many_arguments, reason = "one claim's limits; a struct would only rename them")]
    pub async fn claim_webhook_deliveries(
        &self,
        total: usize,
        per_subscription: usize,
        in_flight: &HashMap<Uuid, usize>,
        skip: &HashSet<Uuid>,
        lease: Duration,
        seal: Option<&SecretBox>,
        now: DateTime<Utc>,
    ) -> Result<Vec<ClaimedDelivery>, StoreError> {
        if total == 0 {
            return Ok(Vec::new());
        }
        // A look before the write transaction: an idle pass never takes SQLite's writer turn.
        let mut waiting: Vec<Uuid> = webhook_delivery::Entity::find()
            .select_only()
            .column(webhook_delivery::Column::SubscriptionId)
            .distinct()
            .filter(due(now))
            .into_tuple::<Uuid>()
            .all(self.conn())
            .await?;
        waiting.retain(|s| in_flight.get(s).copied().unwrap_or(0) < per_subscription);
        if waiting.is_empty() {
            return Ok(Vec::new());
        }
        // A turned-off subscription's deliveries wait for it to be turned on: not worth a
        // write transaction every pass.
        let enabled: HashSet<Uuid> = webhook_subscription::Entity::find()
            .select_only()
            .column(webhook_subscription::Column::Id)
            .filter(webhook_subscription::Column::Enabled.eq(true))
            .into_tuple::<Uuid>()
            .all(self.conn())
            .await?
            .into_iter()
            .collect();
        waiting.retain(|s| enabled.contains(s));
        if waiting.is_empty() {
            return Ok(Vec::new());
        }
        let seal = seal.ok_or(StoreError::Secret(SealError::NoKey))?;
        // Subscriptions take turns in a random order, so none is always served last.
        waiting.shuffle(&mut rand::rng());
        let tx = self.write().await?;
        let subscriptions: HashMap<Uuid, webhook_subscription::Model> = webhook_subscription::Entity::find()
            .filter(webhook_subscription::Column::Id.is_in(waiting.clone()))
            .filter(webhook_subscription::Column::Enabled.eq(true))
            .all(&*tx)
            .await?
            .into_iter()
            .map(|s| (s.id, s))
            .collect();
        let mut claimed = Vec::new();
        for sub_id in waiting {
            let Some(sub) = subscriptions.get(&sub_id) else { continue };
            let room = per_subscription
                .saturating_sub(in_flight.get(&sub_id).copied().unwrap_or(0))
                .min(total.saturating_sub(claimed.len()));
            if room == 0 {
                continue;
            }
            let limit = u64::try_from(room + skip.len()).unwrap_or(u64::MAX);
            let due = webhook_delivery::Entity::find()
                .filter(webhook_delivery::Column::SubscriptionId.eq(sub_id))
                .filter(due(now))
                .filter(first_of_its_ticket())
                .order_by_asc(webhook_delivery::Column::NextAttemptAt)
                .order_by_asc(webhook_delivery::Column::EventId)
                .limit(limit);
            // Locked and leased in two steps: what this process is already sending stays
            // locked in this transaction but is neither leased again nor counted as an attempt.
            let rows: Vec<webhook_delivery::Model> =
                queue::lock_due(&*tx, due).await?.into_iter().filter(|r| !skip.contains(&r.id)).take(room).collect();
            if rows.is_empty() {
                continue;
            }
            queue::lease::<webhook_delivery::Entity, _>(&*tx, &rows, now, lease).await?;
            let keys = keys_of(sub, seal, now)?;
            claimed.extend(rows.into_iter().map(|r| ClaimedDelivery {
                id: r.id,
                subscription_id: r.subscription_id,
                url: sub.url.clone(),
                payload: r.payload,
                event_type: r.event_type,
                ticket_id: r.ticket_id,
                attempt: u32::try_from(r.attempts + 1).unwrap_or(u32::MAX),
                keys: keys.clone(),
            }));
        }
        tx.commit().await?;
        Ok(claimed)
    }

    /// Records an attempt: delivered, retried later (with `jitter`, a fraction in 0..1,
    /// spreading the wait), or given up when its day is over or the subscriber answered
    /// `410 Gone` (which also turns the subscription off, as Standard Webhooks asks).
    /// Returns where the delivery now stands.
    pub async fn record_webhook_attempt(
        &self,
        id: Uuid,
        outcome: &AttemptOutcome,
        jitter: f64,
        now: DateTime<Utc>,
    ) -> Result<DeliveryState, StoreError> {
        let tx = self.write().await?;
        let Some(row) = webhook_delivery::Entity::find_by_id(id).one(&*tx).await? else {
            // Its subscription was deleted while it was being sent.
            return Ok(DeliveryState::Failed);
        };
        if row.state != PENDING {
            return DeliveryState::parse(&row.state)
                .ok_or_else(|| StoreError::corrupt("webhook_deliveries", format!("state {}", row.state)));
        }
        let attempts = u32::try_from(row.attempts).unwrap_or(u32::MAX);
        let (state, next) = if outcome.is_success() {
            (DeliveryState::Delivered, row.next_attempt_at)
        } else if outcome.is_gone() {
            (DeliveryState::Failed, row.next_attempt_at)
        } else {
            match next_attempt(row.window_start, attempts, now, outcome.retry_after, jitter) {
                Some(at) => (DeliveryState::Pending, at),
                None => (DeliveryState::Failed, row.next_attempt_at),
            }
        };
        webhook_delivery::Entity::update_many()
            .col_expr(webhook_delivery::Column::State, Expr::value(state.as_str()))
            .col_expr(webhook_delivery::Column::NextAttemptAt, Expr::value(next))
            .col_expr(webhook_delivery::Column::LeaseUntil, Expr::value(Option::<DateTime<Utc>>::None))
            .col_expr(webhook_delivery::Column::LastStatus, Expr::value(outcome.status.map(i32::from)))
            .col_expr(webhook_delivery::Column::LastError, Expr::value(outcome.error.clone()))
            .col_expr(
                webhook_delivery::Column::DeliveredAt,
                Expr::value((state == DeliveryState::Delivered).then_some(now)),
            )
            .filter(webhook_delivery::Column::Id.eq(id))
            .exec(&*tx)
            .await?;
        if outcome.is_gone() {
            webhook_subscription::Entity::update_many()
                .col_expr(webhook_subscription::Column::Enabled, Expr::value(false))
                .col_expr(
                    webhook_subscription::Column::DisabledReason,
                    Expr::value(Some(format!("the subscriber answered 410 Gone at {}", now.to_rfc3339()))),
                )
                .col_expr(webhook_subscription::Column::UpdatedAt, Expr::value(now))
                .filter(webhook_subscription::Column::Id.eq(row.subscription_id))
                .exec(&*tx)
                .await?;
        }
        tx.commit().await?;
        Ok(state)
    }

    /// The cursor scope of the delivery list.
    pub const WEBHOOK_DELIVERIES_SCOPE: &'static str = "webhook_deliveries";

    /// Lists deliveries, newest first.
    pub async fn list_webhook_deliveries(
        &self,
        filter: &DeliveryFilter,
        page: &PageRequest,
    ) -> Result<Page<Delivery>, StoreError> {
        let mut q = webhook_delivery::Entity::find();
        if let Some(s) = filter.subscription_id {
            q = q.filter(webhook_delivery::Column::SubscriptionId.eq(s));
        }
        if let Some(state) = filter.state {
            q = q.filter(webhook_delivery::Column::State.eq(state.as_str()));
        }
        if let Some(t) = filter.ticket_id {
            q = q.filter(webhook_delivery::Column::TicketId.eq(t));
        }
        if let Some(after) = &page.after {
            q = q.filter(webhook_delivery::Column::Id.lt(after.id));
        }
        let rows = q.order_by_desc(webhook_delivery::Column::Id).limit(page.limit + 1).all(self.conn()).await?;
        Page::by_id(rows, page, Self::WEBHOOK_DELIVERIES_SCOPE, |m| m.id, to_domain)
    }

    /// Reads one delivery, with the message it carries.
    pub async fn webhook_delivery(&self, id: Uuid) -> Result<(Delivery, String), StoreError> {
        let m = webhook_delivery::Entity::find_by_id(id)
            .one(self.conn())
            .await?
            .ok_or_else(|| StoreError::not_found("webhook_delivery", id))?;
        let payload = m.payload.clone();
        Ok((to_domain(m)?, payload))
    }

    /// Sends a given-up delivery again, from a fresh day of retries. Later deliveries of
    /// its ticket to the same subscriber that are still pending wait for it again.
    pub async fn retry_webhook_delivery(&self, id: Uuid, now: DateTime<Utc>) -> Result<Delivery, StoreError> {
        let tx = self.write().await?;
        let m = webhook_delivery::Entity::find_by_id(id)
            .one(&*tx)
            .await?
            .ok_or_else(|| StoreError::not_found("webhook_delivery", id))?;
        if m.state != DeliveryState::Failed.as_str() {
            return Err(StoreError::Conflict {
                code: "webhook_delivery_not_failed",
                detail: format!("delivery {id} is {}; only a failed delivery can be retried", m.state),
            });
        }
        webhook_delivery::Entity::update_many()
            .col_expr(webhook_delivery::Column::State, Expr::value(PENDING))
            .col_expr(webhook_delivery::Column::Attempts, Expr::value(0))
            .col_expr(webhook_delivery::Column::NextAttemptAt, Expr::value(now))
            .col_expr(webhook_delivery::Column::WindowStart, Expr::value(now))
            .col_expr(webhook_delivery::Column::LeaseUntil, Expr::value(Option::<DateTime<Utc>>::None))
            .filter(webhook_delivery::Column::Id.eq(id))
            .exec(&*tx)
            .await?;
        let m = webhook_delivery::Entity::find_by_id(id)
            .one(&*tx)
            .await?
            .ok_or_else(|| StoreError::not_found("webhook_delivery", id))?;
        tx.commit().await?;
        to_domain(m)
    }

    /// How each subscription's deliveries stand.
    pub async fn subscription_counts(&self) -> Result<HashMap<Uuid, SubscriptionCounts>, StoreError> {
        let rows: Vec<(Uuid, String, i64)> = webhook_delivery::Entity::find()
            .select_only()
            .column(webhook_delivery::Column::SubscriptionId)
            .column(webhook_delivery::Column::State)
            .column_as(webhook_delivery::Column::Id.count(), "n")
            .group_by(webhook_delivery::Column::SubscriptionId)
            .group_by(webhook_delivery::Column::State)
            .into_tuple()
            .all(self.conn())
            .await?;
        let mut out: HashMap<Uuid, SubscriptionCounts> = HashMap::new();
        for (sub, state, n) in rows {
            let n = u64::try_from(n).unwrap_or(0);
            let c = out.entry(sub).or_default();
            match DeliveryState::parse(&state) {
                Some(DeliveryState::Pending) => c.pending += n,
                Some(DeliveryState::Delivered) => c.delivered += n,
                Some(DeliveryState::Failed) => c.failed += n,
                None => {}
            }
        }
        Ok(out)
    }

    /// Forgets delivered and given-up deliveries made before `before`.
    pub async fn purge_webhook_deliveries(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        let tx = self.write().await?;
        let gone = webhook_delivery::Entity::delete_many()
            .filter(webhook_delivery::Column::State.ne(PENDING))
            .filter(webhook_delivery::Column::CreatedAt.lt(before))
            .exec(&*tx)
            .await?
            .rows_affected;
        tx.commit().await?;
        Ok(gone)
    }
}
