//! What an inbound delivery is applied with: a receipt per delivery id, a lease and the
//! last applied version per source ticket, and comment ids. The ticket changes go through
//! the ordinary `Store` methods (the REST paths), each in its own transaction; these rows
//! make the whole safe to repeat:
//!
//! - the receipt is written (leased) before anything is applied and marked done after;
//!   a repeated id finds it done and is acknowledged without being applied. A crash in
//!   between leaves it leased; once the lease ends a redelivery takes it over and applies
//!   again, which sets the same state (the source's values are absolute) and adds no
//!   comment twice once its link is written.
//! - the ticket lease serialises deliveries for one source ticket across instances, so
//!   the version check and the changes it allows are not interleaved with another's.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use desk_core::hooks::SourceVersion;
use desk_core::{CommentId, Person, TicketId};
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict, Query};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use uuid::Uuid;

use super::entity::{hook_comment, hook_receipt, hook_ticket};
use crate::entity::person;
use crate::orgs::lower;
use crate::pagination::{Page, PageRequest};
use crate::queue::lease_end;
use crate::{Store, StoreError};

/// How a delivery id stands when a delivery arrives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryClaim {
    /// Not seen (or seen by a process that died before finishing): the caller applies it.
    New,
    /// Applied already.
    Duplicate {
        /// What it did then.
        outcome: Option<String>,
        /// The ticket it concerned.
        ticket_id: Option<TicketId>,
    },
    /// Being applied right now by another request.
    Busy,
}

/// A source ticket's link, locked for the caller.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HookTicketState {
    /// The desk ticket, once one exists.
    pub ticket_id: Option<TicketId>,
    /// Where the last applied delivery had the ticket.
    pub applied: SourceVersion,
}

/// One delivery as the desk received it (for the REST log).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HookReceipt {
    /// Time-ordered id.
    pub id: Uuid,
    /// The delivery id the source gave.
    pub delivery_id: String,
    /// Its type.
    pub event_type: String,
    /// The source ticket.
    pub external_id: String,
    /// `processing` or `done`.
    pub state: String,
    /// What it did: `created`, `updated`, `commented`, `unchanged`, `stale`.
    pub outcome: Option<String>,
    /// The desk ticket.
    pub ticket_id: Option<TicketId>,
    /// When it arrived.
    pub received_at: DateTime<Utc>,
    /// When it was applied.
    pub finished_at: Option<DateTime<Utc>>,
}

const PROCESSING: &str = "processing";
const DONE: &str = "done";

/// Which sources made these comments (the webhook fan-out uses it to leave a source's own
/// comments out of what goes back to it).
pub(crate) async fn comment_origins<C: ConnectionTrait>(
    db: &C,
    comments: impl IntoIterator<Item = Uuid>,
) -> Result<HashMap<Uuid, String>, StoreError> {
    let ids: Vec<Uuid> = comments.into_iter().collect();
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    Ok(hook_comment::Entity::find()
        .filter(hook_comment::Column::CommentId.is_in(ids))
        .all(db)
        .await?
        .into_iter()
        .map(|c| (c.comment_id, c.source))
        .collect())
}

impl Store {
    /// Records a delivery id as being applied by the caller, unless it was applied before
    /// (or is being applied right now).
    pub async fn claim_hook_delivery(
        &self,
        source: &str,
        delivery_id: &str,
        event_type: &str,
        external_id: &str,
        lease: Duration,
        now: DateTime<Utc>,
    ) -> Result<DeliveryClaim, StoreError> {
        let mut insert = Query::insert();
        insert
            .into_table(hook_receipt::Entity)
            .columns([
                hook_receipt::Column::Id,
                hook_receipt::Column::Source,
                hook_receipt::Column::DeliveryId,
                hook_receipt::Column::EventType,
                hook_receipt::Column::ExternalId,
                hook_receipt::Column::State,
                hook_receipt::Column::LeaseUntil,
                hook_receipt::Column::ReceivedAt,
            ])
            .values([
                Uuid::now_v7().into(),
                source.into(),
                delivery_id.into(),
                event_type.into(),
                external_id.into(),
                PROCESSING.into(),
                Some(lease_end(now, lease)).into(),
                now.into(),
            ])
            .map_err(|e| StoreError::corrupt("hook_receipts", e))?
            .on_conflict(
                OnConflict::columns([hook_receipt::Column::Source, hook_receipt::Column::DeliveryId])
                    .do_nothing()
                    .to_owned(),
            );
        let tx = self.write().await?;
        if tx.execute(&insert).await?.rows_affected() == 1 {
            tx.commit().await?;
            return Ok(DeliveryClaim::New);
        }
        let row = hook_receipt::Entity::find_by_id((source.to_owned(), delivery_id.to_owned()))
            .one(&*tx)
            .await?
            .ok_or_else(|| StoreError::corrupt("hook_receipts", "receipt vanished"))?;
        if row.state == DONE {
            return Ok(DeliveryClaim::Duplicate {
                outcome: row.outcome,
                ticket_id: row.ticket_id.map(TicketId::from_uuid),
            });
        }
        if row.lease_until.is_some_and(|l| l > now) {
            return Ok(DeliveryClaim::Busy);
        }
        // Whoever held it died before finishing: take it over.
        hook_receipt::Entity::update_many()
            .col_expr(hook_receipt::Column::LeaseUntil, Expr::value(Some(lease_end(now, lease))))
            .filter(hook_receipt::Column::Source.eq(source))
            .filter(hook_receipt::Column::DeliveryId.eq(delivery_id))
            .exec(&*tx)
            .await?;
        tx.commit().await?;
        Ok(DeliveryClaim::New)
    }

    /// Marks a claimed delivery applied.
    pub async fn finish_hook_delivery(
        &self,
        source: &str,
        delivery_id: &str,
        outcome: &str,
        ticket: Option<TicketId>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let tx = self.write().await?;
        hook_receipt::Entity::update_many()
            .col_expr(hook_receipt::Column::State, Expr::value(DONE))
            .col_expr(hook_receipt::Column::Outcome, Expr::value(Some(outcome.to_owned())))
            .col_expr(hook_receipt::Column::TicketId, Expr::value(ticket.map(|t| t.as_uuid())))
            .col_expr(hook_receipt::Column::LeaseUntil, Expr::value(Option::<DateTime<Utc>>::None))
            .col_expr(hook_receipt::Column::FinishedAt, Expr::value(Some(now)))
            .filter(hook_receipt::Column::Source.eq(source))
            .filter(hook_receipt::Column::DeliveryId.eq(delivery_id))
            .exec(&*tx)
            .await?;
        tx.commit().await
    }

    /// Forgets a claimed delivery that was refused or failed before it changed anything:
    /// the source's retry is then judged afresh.
    pub async fn forget_hook_delivery(&self, source: &str, delivery_id: &str) -> Result<(), StoreError> {
        let tx = self.write().await?;
        hook_receipt::Entity::delete_many()
            .filter(hook_receipt::Column::Source.eq(source))
            .filter(hook_receipt::Column::DeliveryId.eq(delivery_id))
            .filter(hook_receipt::Column::State.eq(PROCESSING))
            .exec(&*tx)
            .await?;
        tx.commit().await
    }

    /// Locks a source ticket's link for the caller, creating it if new. `None` when
    /// another request holds it.
    pub async fn lock_hook_ticket(
        &self,
        source: &str,
        external_id: &str,
        lease: Duration,
        now: DateTime<Utc>,
    ) -> Result<Option<HookTicketState>, StoreError> {
        let lease_until = lease_end(now, lease);
        let mut insert = Query::insert();
        insert
            .into_table(hook_ticket::Entity)
            .columns([
                hook_ticket::Column::Source,
                hook_ticket::Column::ExternalId,
                hook_ticket::Column::LeaseUntil,
                hook_ticket::Column::UpdatedAt,
            ])
            .values([source.into(), external_id.into(), Some(lease_until).into(), now.into()])
            .map_err(|e| StoreError::corrupt("hook_tickets", e))?
            .on_conflict(
                OnConflict::columns([hook_ticket::Column::Source, hook_ticket::Column::ExternalId])
                    .do_nothing()
                    .to_owned(),
            );
        let tx = self.write().await?;
        if tx.execute(&insert).await?.rows_affected() == 1 {
            tx.commit().await?;
            return Ok(Some(HookTicketState::default()));
        }
        let taken = hook_ticket::Entity::update_many()
            .col_expr(hook_ticket::Column::LeaseUntil, Expr::value(Some(lease_until)))
            .filter(hook_ticket::Column::Source.eq(source))
            .filter(hook_ticket::Column::ExternalId.eq(external_id))
            .filter(hook_ticket::Column::LeaseUntil.is_null().or(hook_ticket::Column::LeaseUntil.lte(now)))
            .exec(&*tx)
            .await?
            .rows_affected
            == 1;
        if !taken {
            return Ok(None);
        }
        let row = hook_ticket::Entity::find_by_id((source.to_owned(), external_id.to_owned()))
            .one(&*tx)
            .await?
            .ok_or_else(|| StoreError::corrupt("hook_tickets", "link vanished"))?;
        tx.commit().await?;
        Ok(Some(HookTicketState {
            ticket_id: row.ticket_id.map(TicketId::from_uuid),
            applied: SourceVersion { version: row.version, updated_at: row.source_updated_at },
        }))
    }

    /// Unlocks a source ticket's link, recording what was applied under the lock.
    pub async fn release_hook_ticket(
        &self,
        source: &str,
        external_id: &str,
        applied: Option<(TicketId, SourceVersion)>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut update = hook_ticket::Entity::update_many()
            .col_expr(hook_ticket::Column::LeaseUntil, Expr::value(Option::<DateTime<Utc>>::None))
            .filter(hook_ticket::Column::Source.eq(source))
            .filter(hook_ticket::Column::ExternalId.eq(external_id));
        if let Some((ticket, version)) = applied {
            update = update
                .col_expr(hook_ticket::Column::TicketId, Expr::value(Some(ticket.as_uuid())))
                .col_expr(hook_ticket::Column::Version, Expr::value(version.version))
                .col_expr(hook_ticket::Column::SourceUpdatedAt, Expr::value(version.updated_at))
                .col_expr(hook_ticket::Column::UpdatedAt, Expr::value(now));
        }
        let tx = self.write().await?;
        update.exec(&*tx).await?;
        tx.commit().await
    }

    /// Records the desk ticket of a locked source ticket as soon as it exists, so the
    /// webhook fan-out holds its events until the lock is released.
    pub async fn attach_hook_ticket(
        &self,
        source: &str,
        external_id: &str,
        ticket: TicketId,
    ) -> Result<(), StoreError> {
        let tx = self.write().await?;
        hook_ticket::Entity::update_many()
            .col_expr(hook_ticket::Column::TicketId, Expr::value(Some(ticket.as_uuid())))
            .filter(hook_ticket::Column::Source.eq(source))
            .filter(hook_ticket::Column::ExternalId.eq(external_id))
            .exec(&*tx)
            .await?;
        tx.commit().await
    }

    /// The ticket linked to a source's ticket by its external reference.
    pub async fn ticket_by_external_ref(
        &self,
        system: &str,
        external_id: &str,
    ) -> Result<Option<TicketId>, StoreError> {
        self.ticket_id_by_external_ref(system, external_id).await
    }

    /// Whether a source's comment was added already.
    pub async fn hook_comment(&self, source: &str, external_id: &str) -> Result<Option<CommentId>, StoreError> {
        Ok(hook_comment::Entity::find_by_id((source.to_owned(), external_id.to_owned()))
            .one(self.conn())
            .await?
            .map(|c| CommentId::from_uuid(c.comment_id)))
    }

    /// Records which desk comment a source's comment became.
    pub async fn link_hook_comment(
        &self,
        source: &str,
        external_id: &str,
        comment: CommentId,
        ticket: TicketId,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut insert = Query::insert();
        insert
            .into_table(hook_comment::Entity)
            .columns([
                hook_comment::Column::Source,
                hook_comment::Column::ExternalId,
                hook_comment::Column::CommentId,
                hook_comment::Column::TicketId,
                hook_comment::Column::CreatedAt,
            ])
            .values([source.into(), external_id.into(), comment.as_uuid().into(), ticket.as_uuid().into(), now.into()])
            .map_err(|e| StoreError::corrupt("hook_comments", e))?
            .on_conflict(
                OnConflict::columns([hook_comment::Column::Source, hook_comment::Column::ExternalId])
                    .do_nothing()
                    .to_owned(),
            );
        let tx = self.write().await?;
        tx.execute(&insert).await?;
        tx.commit().await
    }

    /// Active people with this e-mail address (compared case-insensitively), staff first.
    pub async fn people_by_email(&self, email: &str) -> Result<Vec<Person>, StoreError> {
        let rows = person::Entity::find()
            .filter(lower((person::Entity, person::Column::Email)).eq(email.to_lowercase()))
            .filter(person::Column::Active.eq(true))
            .order_by_asc(person::Column::Id)
            .all(self.conn())
            .await?;
        let mut people = rows.into_iter().map(crate::people::to_domain).collect::<Result<Vec<_>, _>>()?;
        people.sort_by_key(|p| !p.is_staff());
        Ok(people)
    }

    /// The cursor scope of a source's delivery log.
    pub fn hook_receipts_scope(source: &str) -> String {
        format!("hook_receipts:{source}")
    }

    /// A source's deliveries, newest first.
    pub async fn list_hook_receipts(&self, source: &str, page: &PageRequest) -> Result<Page<HookReceipt>, StoreError> {
        let mut q = hook_receipt::Entity::find().filter(hook_receipt::Column::Source.eq(source));
        if let Some(after) = &page.after {
            q = q.filter(hook_receipt::Column::Id.lt(after.id));
        }
        let rows = q.order_by_desc(hook_receipt::Column::Id).limit(page.limit + 1).all(self.conn()).await?;
        Page::by_id(
            rows,
            page,
            &Self::hook_receipts_scope(source),
            |m| m.id,
            |m| {
                Ok::<_, StoreError>(HookReceipt {
                    id: m.id,
                    delivery_id: m.delivery_id,
                    event_type: m.event_type,
                    external_id: m.external_id,
                    state: m.state,
                    outcome: m.outcome,
                    ticket_id: m.ticket_id.map(TicketId::from_uuid),
                    received_at: m.received_at,
                    finished_at: m.finished_at,
                })
            },
        )
    }

    /// Forgets applied deliveries received before `before`. Past the retention a source no
    /// longer retries them, and a replay is refused by its timestamp anyway.
    pub async fn purge_hook_receipts(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        let tx = self.write().await?;
        let gone = hook_receipt::Entity::delete_many()
            .filter(hook_receipt::Column::State.eq(DONE))
            .filter(hook_receipt::Column::ReceivedAt.lt(before))
            .exec(&*tx)
            .await?
            .rows_affected;
        tx.commit().await?;
        Ok(gone)
    }
}
