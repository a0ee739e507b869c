//! Deliveries: claimed under a lease, sent, then marked. A sender that dies between
//! the Lark call and the mark leaves a lease that runs out; the next claim sends again
//! with the same `uuid` (the delivery's id), and Lark shows the message once.

use std::time::Duration;

use chrono::{DateTime, Utc};
use desk_core::notify::{Delivery, DeliveryState, NotifyClass, Recipient};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use uuid::Uuid;

use super::{class_of, recipient_of};
use crate::entity::{delivery, person};
use crate::pagination::{Page, PageRequest};
use crate::queue::{self, Leased};
use crate::{Store, StoreError};

/// A claimed delivery, ready for its Lark call.
#[derive(Debug, Clone)]
pub struct Outgoing {
    /// Its id: the call's `uuid`.
    pub id: Uuid,
    /// Who it is for.
    pub recipient: Recipient,
    /// For a person: their Lark open_id, if they are bound.
    pub open_id: Option<String>,
    /// Its class.
    pub class: NotifyClass,
    /// The card JSON.
    pub card: String,
    /// This attempt's number (1 = first).
    pub attempt: u32,
}

/// Which deliveries to list.
#[derive(Debug, Clone, Default)]
pub struct DeliveryFilter {
    /// In this state.
    pub state: Option<DeliveryState>,
    /// Through this integration.
    pub integration_id: Option<String>,
    /// To this recipient (its key).
    pub recipient: Option<String>,
}

fn to_domain(m: delivery::Model) -> Result<Delivery, StoreError> {
    Ok(Delivery {
        id: m.id,
        recipient: recipient_of(&m.recipient)?,
        class: class_of(m.class)?,
        state: DeliveryState::parse(&m.state)
            .ok_or_else(|| StoreError::corrupt("deliveries", format!("state {}", m.state)))?,
        integration_id: m.integration_id,
        kind: m.kind,
        items: u32::try_from(m.items).unwrap_or(0),
        attempts: u32::try_from(m.attempts).unwrap_or(0),
        last_error: m.last_error,
        message_id: m.message_id,
        created_at: m.created_at,
        next_attempt_at: m.next_attempt_at,
        sent_at: m.sent_at,
    })
}

impl Leased for delivery::Entity {
    const ID: delivery::Column = delivery::Column::Id;
    const LEASE_UNTIL: delivery::Column = delivery::Column::LeaseUntil;
    const ATTEMPTS: delivery::Column = delivery::Column::Attempts;
    const TOUCHED_AT: Option<delivery::Column> = Some(delivery::Column::UpdatedAt);
}

impl Store {
    /// Claims up to `limit` due deliveries of `integration`, most urgent first, leasing
    /// them for `lease`. On PostgreSQL concurrent senders take disjoint rows.
    pub async fn claim_deliveries(
        &self,
        integration: &str,
        now: DateTime<Utc>,
        lease: Duration,
        limit: u64,
    ) -> Result<Vec<Outgoing>, StoreError> {
        let tx = self.write().await?;
        let due = delivery::Entity::find()
            .filter(delivery::Column::IntegrationId.eq(integration))
            .filter(delivery::Column::State.eq(DeliveryState::Ready.as_str()))
            .filter(delivery::Column::NextAttemptAt.lte(now))
            .filter(delivery::Column::LeaseUntil.is_null().or(delivery::Column::LeaseUntil.lte(now)))
            .order_by_asc(delivery::Column::Class)
            .order_by_asc(delivery::Column::Id)
            .limit(limit);
        let rows = queue::claim(&*tx, due, now, lease).await?;
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let people: std::collections::HashMap<Uuid, Option<String>> = person::Entity::find()
            .filter(person::Column::Id.is_in(rows.iter().filter_map(|r| r.person_id)))
            .all(&*tx)
            .await?
            .into_iter()
            .map(|p| (p.id, p.lark_open_id))
            .collect();
        tx.commit().await?;
        rows.into_iter()
            .map(|r| {
                Ok(Outgoing {
                    id: r.id,
                    recipient: recipient_of(&r.recipient)?,
                    open_id: r.person_id.and_then(|p| people.get(&p).cloned().flatten()),
                    class: class_of(r.class)?,
                    card: r.card,
                    attempt: u32::try_from(r.attempts + 1).unwrap_or(u32::MAX),
                })
            })
            .collect()
    }

    /// Lark accepted the delivery.
    pub async fn mark_sent(&self, id: Uuid, message_id: &str, now: DateTime<Utc>) -> Result<(), StoreError> {
        let tx = self.write().await?;
        delivery::Entity::update_many()
            .col_expr(delivery::Column::State, Expr::value(DeliveryState::Sent.as_str()))
            .col_expr(delivery::Column::MessageId, Expr::value(message_id))
            .col_expr(delivery::Column::SentAt, Expr::value(now))
            .col_expr(delivery::Column::LeaseUntil, Expr::value(Option::<DateTime<Utc>>::None))
            .col_expr(delivery::Column::LastError, Expr::value(Option::<String>::None))
            .col_expr(delivery::Column::UpdatedAt, Expr::value(now))
            .filter(delivery::Column::Id.eq(id))
            .exec(&*tx)
            .await?;
        tx.commit().await
    }

    /// The attempt failed; try again at `retry_at`.
    pub async fn mark_retry(
        &self,
        id: Uuid,
        error: &str,
        retry_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.set_after_attempt(id, DeliveryState::Ready, Some(error), retry_at, now, 0).await
    }

    /// Gives up on the delivery until an admin retries it.
    pub async fn mark_parked(&self, id: Uuid, error: &str, now: DateTime<Utc>) -> Result<(), StoreError> {
        self.set_after_attempt(id, DeliveryState::Parked, Some(error), now, now, 0).await
    }

    /// Puts a claimed delivery back untried (the budget or a limit said not yet): the
    /// attempt it was claimed for does not count.
    pub async fn defer_delivery(
        &self,
        id: Uuid,
        reason: &str,
        until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.set_after_attempt(id, DeliveryState::Ready, Some(reason), until, now, -1).await
    }

    async fn set_after_attempt(
        &self,
        id: Uuid,
        state: DeliveryState,
        error: Option<&str>,
        next: DateTime<Utc>,
        now: DateTime<Utc>,
        attempts_delta: i32,
    ) -> Result<(), StoreError> {
        let tx = self.write().await?;
        delivery::Entity::update_many()
            .col_expr(delivery::Column::State, Expr::value(state.as_str()))
            .col_expr(delivery::Column::LastError, Expr::value(error.map(str::to_owned)))
            .col_expr(delivery::Column::NextAttemptAt, Expr::value(next))
            .col_expr(delivery::Column::LeaseUntil, Expr::value(Option::<DateTime<Utc>>::None))
            .col_expr(delivery::Column::Attempts, Expr::col(delivery::Column::Attempts).add(attempts_delta))
            .col_expr(delivery::Column::UpdatedAt, Expr::value(now))
            .filter(delivery::Column::Id.eq(id))
            .exec(&*tx)
            .await?;
        tx.commit().await
    }

    /// An admin's retry of a parked delivery: it is tried again at once, from attempt one.
    pub async fn retry_delivery(&self, id: Uuid, now: DateTime<Utc>) -> Result<Delivery, StoreError> {
        let tx = self.write().await?;
        let current = delivery::Entity::find_by_id(id)
            .lock_exclusive()
            .one(&*tx)
            .await?
            .ok_or_else(|| StoreError::not_found("notification", id))?;
        if current.state != DeliveryState::Parked.as_str() {
            return Err(StoreError::Conflict {
                code: "not_parked",
                detail: format!("notification {id} is {}; only parked notifications can be retried", current.state),
            });
        }
        delivery::Entity::update_many()
            .col_expr(delivery::Column::State, Expr::value(DeliveryState::Ready.as_str()))
            .col_expr(delivery::Column::Attempts, Expr::value(0))
            .col_expr(delivery::Column::NextAttemptAt, Expr::value(now))
            .col_expr(delivery::Column::LeaseUntil, Expr::value(Option::<DateTime<Utc>>::None))
            .col_expr(delivery::Column::UpdatedAt, Expr::value(now))
            .filter(delivery::Column::Id.eq(id))
            .exec(&*tx)
            .await?;
        let updated = delivery::Entity::find_by_id(id)
            .one(&*tx)
            .await?
            .ok_or_else(|| StoreError::not_found("notification", id))?;
        tx.commit().await?;
        to_domain(updated)
    }

    /// One delivery.
    pub async fn delivery(&self, id: Uuid) -> Result<Delivery, StoreError> {
        delivery::Entity::find_by_id(id)
            .one(self.conn())
            .await?
            .ok_or_else(|| StoreError::not_found("notification", id))
            .and_then(to_domain)
    }

    /// The cursor scope of the delivery list.
    pub const DELIVERIES_SCOPE: &'static str = "notifications";

    /// Lists deliveries, newest first.
    pub async fn list_deliveries(
        &self,
        filter: &DeliveryFilter,
        page: &PageRequest,
    ) -> Result<Page<Delivery>, StoreError> {
        let mut q = delivery::Entity::find();
        if let Some(state) = filter.state {
            q = q.filter(delivery::Column::State.eq(state.as_str()));
        }
        if let Some(i) = &filter.integration_id {
            q = q.filter(delivery::Column::IntegrationId.eq(i));
        }
        if let Some(r) = &filter.recipient {
            q = q.filter(delivery::Column::Recipient.eq(r));
        }
        if let Some(after) = &page.after {
            q = q.filter(delivery::Column::Id.lt(after.id));
        }
        let rows = q.order_by_desc(delivery::Column::Id).limit(page.limit + 1).all(self.conn()).await?;
        Page::by_id(rows, page, Self::DELIVERIES_SCOPE, |m| m.id, to_domain)
    }
}
