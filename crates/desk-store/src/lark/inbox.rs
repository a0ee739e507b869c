//! The inbox: accepted once per event id and per message id, claimed under a lease,
//! finished, retried or parked.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict, Query};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use uuid::Uuid;

use crate::entity::lark_event;
use crate::queue::{self, Leased, lease_end};
use crate::{Store, StoreError};

/// How an event reached the desk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// `POST /lark/{integration}/events` or `/cards`.
    Webhook,
    /// The outbound WebSocket.
    LongConnection,
}

impl Via {
    /// Stable name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Webhook => "webhook",
            Self::LongConnection => "long_connection",
        }
    }
}

/// Where an inbox row stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InboxState {
    /// Waiting to be handled (or being handled under a lease).
    Pending,
    /// Handled.
    Done,
    /// Given up after repeated failures; kept for the record.
    Failed,
}

impl InboxState {
    /// Stable name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Done => "done",
            Self::Failed => "failed",
        }
    }
}

/// An event to accept: its identity and its plaintext envelope.
#[derive(Debug, Clone)]
pub struct InboundEvent {
    /// The integration it was sent to.
    pub integration_id: String,
    /// `header.event_id` (v2) or `uuid` (v1).
    pub event_id: String,
    /// `header.event_type`.
    pub event_type: String,
    /// `event.message.message_id` for messages: Lark's advice is to de-duplicate on it too.
    pub message_id: Option<String>,
    /// The event's own `create_time`, when it could be read.
    pub lark_created_at: Option<DateTime<Utc>>,
    /// Webhook or long connection.
    pub via: Via,
    /// The plaintext envelope JSON.
    pub body: String,
}

/// Whether an event was new.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accepted {
    /// Stored; the id of its inbox row.
    New(Uuid),
    /// Its event id or message id was already in the inbox: a redelivery.
    Duplicate,
}

/// An inbox row claimed for handling.
#[derive(Debug, Clone)]
pub struct ClaimedEvent {
    /// The row.
    pub id: Uuid,
    /// The integration.
    pub integration_id: String,
    /// `header.event_type`.
    pub event_type: String,
    /// The plaintext envelope JSON.
    pub body: String,
    /// This attempt's number (1 = first).
    pub attempt: u32,
}

/// What an integration's inbox holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InboxSummary {
    /// When the newest event arrived.
    pub last_event_at: Option<DateTime<Utc>>,
    /// Waiting to be handled.
    pub pending: u64,
    /// Given up on.
    pub failed: u64,
    /// Handled, still remembered for de-duplication.
    pub done: u64,
}

impl Leased for lark_event::Entity {
    const ID: lark_event::Column = lark_event::Column::Id;
    const LEASE_UNTIL: lark_event::Column = lark_event::Column::LeaseUntil;
    const ATTEMPTS: lark_event::Column = lark_event::Column::Attempts;
}

impl Store {
    /// Stores an event unless its event id or message id is already there. With a
    /// `lease`, the row starts out claimed by the caller (a card callback handled while
    /// Lark waits), so the worker leaves it alone unless the caller dies.
    pub async fn accept_event(
        &self,
        ev: InboundEvent,
        lease: Option<Duration>,
        now: DateTime<Utc>,
    ) -> Result<Accepted, StoreError> {
        let id = Uuid::now_v7();
        let e = lark_event::Entity;
        let mut q = Query::insert();
        q.into_table(e)
            .columns([
                lark_event::Column::Id,
                lark_event::Column::IntegrationId,
                lark_event::Column::EventId,
                lark_event::Column::EventType,
                lark_event::Column::MessageId,
                lark_event::Column::LarkCreatedAt,
                lark_event::Column::Via,
                lark_event::Column::Body,
                lark_event::Column::State,
                lark_event::Column::Attempts,
                lark_event::Column::NextAttemptAt,
                lark_event::Column::LeaseUntil,
                lark_event::Column::ReceivedAt,
            ])
            .values([
                id.into(),
                ev.integration_id.into(),
                ev.event_id.into(),
                ev.event_type.into(),
                ev.message_id.into(),
                ev.lark_created_at.into(),
                ev.via.as_str().into(),
                ev.body.into(),
                InboxState::Pending.as_str().into(),
                i32::from(lease.is_some()).into(),
                now.into(),
                lease.map(|l| lease_end(now, l)).into(),
                now.into(),
            ])
            .map_err(|e| StoreError::corrupt("lark_events", e))?
            // No conflict target: either unique key (event id, message id) makes it a duplicate.
            .on_conflict(OnConflict::new().do_nothing().to_owned());
        let tx = self.write().await?;
        let inserted = tx.execute(&q).await?.rows_affected() == 1;
        tx.commit().await?;
        Ok(if inserted { Accepted::New(id) } else { Accepted::Duplicate })
    }

    /// Claims up to `limit` pending events whose attempt is due, oldest first, leasing
    /// them for `lease`. On PostgreSQL concurrent workers take disjoint rows.
    pub async fn claim_events(
        &self,
        now: DateTime<Utc>,
        lease: Duration,
        limit: u64,
    ) -> Result<Vec<ClaimedEvent>, StoreError> {
        let tx = self.write().await?;
        let due = lark_event::Entity::find()
            .filter(lark_event::Column::State.eq(InboxState::Pending.as_str()))
            .filter(lark_event::Column::NextAttemptAt.lte(now))
            .filter(lark_event::Column::LeaseUntil.is_null().or(lark_event::Column::LeaseUntil.lte(now)))
            .order_by_asc(lark_event::Column::Id)
            .limit(limit);
        let rows = queue::claim(&*tx, due, now, lease).await?;
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        tx.commit().await?;
        Ok(rows
            .into_iter()
            .map(|r| ClaimedEvent {
                id: r.id,
                integration_id: r.integration_id,
                event_type: r.event_type,
                body: r.body,
                attempt: u32::try_from(r.attempts + 1).unwrap_or(u32::MAX),
            })
            .collect())
    }

    /// The event was handled; `outcome` says how, for the record.
    pub async fn finish_event(&self, id: Uuid, outcome: &str, now: DateTime<Utc>) -> Result<(), StoreError> {
        self.set_event_state(id, InboxState::Done, Some(outcome), None, now, now).await
    }

    /// Handling failed; try again at `retry_at`.
    pub async fn retry_event(
        &self,
        id: Uuid,
        error: &str,
        retry_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.set_event_state(id, InboxState::Pending, None, Some(error), retry_at, now).await
    }

    /// Handling failed for good; the row stays for the record (and for de-duplication).
    pub async fn park_event(&self, id: Uuid, error: &str, now: DateTime<Utc>) -> Result<(), StoreError> {
        self.set_event_state(id, InboxState::Failed, None, Some(error), now, now).await
    }

    async fn set_event_state(
        &self,
        id: Uuid,
        state: InboxState,
        outcome: Option<&str>,
        error: Option<&str>,
        next_attempt_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let processed = (state != InboxState::Pending).then_some(now);
        let tx = self.write().await?;
        lark_event::Entity::update_many()
            .col_expr(lark_event::Column::State, Expr::value(state.as_str()))
            .col_expr(lark_event::Column::Outcome, Expr::value(outcome.map(str::to_owned)))
            .col_expr(lark_event::Column::LastError, Expr::value(error.map(str::to_owned)))
            .col_expr(lark_event::Column::NextAttemptAt, Expr::value(next_attempt_at))
            .col_expr(lark_event::Column::LeaseUntil, Expr::value(Option::<DateTime<Utc>>::None))
            .col_expr(lark_event::Column::ProcessedAt, Expr::value(processed))
            .filter(lark_event::Column::Id.eq(id))
            .exec(&*tx)
            .await?;
        tx.commit().await
    }

    /// Forgets handled events received before `before`: past the retention Lark no longer
    /// redelivers them, and an older replay is refused by its own `create_time`.
    pub async fn purge_events(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        let tx = self.write().await?;
        let gone = lark_event::Entity::delete_many()
            .filter(lark_event::Column::State.ne(InboxState::Pending.as_str()))
            .filter(lark_event::Column::ReceivedAt.lt(before))
            .exec(&*tx)
            .await?
            .rows_affected;
        tx.commit().await?;
        Ok(gone)
    }

    /// What one integration's inbox holds.
    pub async fn inbox_summary(&self, integration: &str) -> Result<InboxSummary, StoreError> {
        let db = self.conn();
        let last_event_at: Option<DateTime<Utc>> = lark_event::Entity::find()
            .select_only()
            .column_as(lark_event::Column::ReceivedAt.max(), "last")
            .filter(lark_event::Column::IntegrationId.eq(integration))
            .into_tuple::<Option<DateTime<Utc>>>()
            .one(db)
            .await?
            .flatten();
        let counts: Vec<(String, i64)> = lark_event::Entity::find()
            .select_only()
            .column(lark_event::Column::State)
            .column_as(lark_event::Column::Id.count(), "n")
            .filter(lark_event::Column::IntegrationId.eq(integration))
            .group_by(lark_event::Column::State)
            .into_tuple()
            .all(db)
            .await?;
        let mut summary = InboxSummary { last_event_at, ..InboxSummary::default() };
        for (state, n) in counts {
            let n = u64::try_from(n).unwrap_or(0);
            match state.as_str() {
                "pending" => summary.pending = n,
                "failed" => summary.failed = n,
                _ => summary.done += n,
            }
        }
        Ok(summary)
    }
}
