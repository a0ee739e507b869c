//! Composing: when a recipient's window is open, everything waiting for them becomes one
//! delivery (a card, or a digest when several things waited). The window is claimed
//! with a conditional upsert, so of two composers racing for one recipient exactly one
//! wins; the loser's transaction writes nothing.

use std::time::Duration;

use chrono::{DateTime, Utc};
use desk_core::notify::{self, NotificationBody, NotifyClass, PacingLevel, Recipient};
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::{Expr, ExprTrait, Func, JoinType, LockBehavior, LockType, OnConflict, Order, Query};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use uuid::Uuid;

use super::{NotificationState, class_of, recipient_columns, recipient_of};
use crate::entity::{delivery, notification, notify_window, person};
use crate::{Store, StoreError};

/// What a card is rendered from.
#[derive(Debug, Clone)]
pub struct ComposeInput {
    /// Who reads it.
    pub recipient: Recipient,
    /// The reader's language (`en`, `zh`); chats read English until they say otherwise.
    pub locale: String,
    /// What happened, oldest first.
    pub items: Vec<NotificationBody>,
    /// The most urgent class among them.
    pub class: NotifyClass,
}

/// A rendered card.
#[derive(Debug, Clone)]
pub struct Rendered {
    /// `card` or `digest`.
    pub kind: &'static str,
    /// The card JSON.
    pub card: String,
}

/// The highest class rank delivery admits at `level` (cosmetic edits wait first, then
/// all but emergencies).
fn max_rank(level: PacingLevel) -> i16 {
    NotifyClass::ALL.iter().filter(|c| level.admits(**c)).map(|c| c.rank()).max().unwrap_or(0)
}

fn cutoff(now: DateTime<Utc>, window: Duration) -> DateTime<Utc> {
    now - chrono::Duration::from_std(window).unwrap_or(chrono::Duration::MAX)
}

impl Store {
    /// Recipients of `integration` with something due: their window is open (or what
    /// waits for them is an emergency). Most urgent first.
    pub async fn due_recipients(
        &self,
        integration: &str,
        now: DateTime<Utc>,
        window: Duration,
        level: PacingLevel,
        limit: u64,
    ) -> Result<Vec<Recipient>, StoreError> {
        let (n, w) = (notification::Entity, notify_window::Entity);
        let emergency = NotifyClass::Emergency.rank();
        let mut q = Query::select();
        q.column((n, notification::Column::Recipient))
            .from(n)
            .join(
                JoinType::LeftJoin,
                w,
                Expr::col((w, notify_window::Column::Recipient)).equals((n, notification::Column::Recipient)),
            )
            .and_where(Expr::col((n, notification::Column::IntegrationId)).eq(integration))
            .and_where(Expr::col((n, notification::Column::State)).eq(NotificationState::Waiting.as_str()))
            .and_where(Expr::col((n, notification::Column::NotBefore)).lte(now))
            .and_where(Expr::col((n, notification::Column::Class)).lte(max_rank(level)))
            .and_where(
                Expr::col((w, notify_window::Column::LastSentAt))
                    .is_null()
                    .or(Expr::col((w, notify_window::Column::LastSentAt)).lte(cutoff(now, window)))
                    .or(Expr::col((n, notification::Column::Class)).eq(emergency)),
            )
            .group_by_col((n, notification::Column::Recipient))
            .order_by_expr(Func::min(Expr::col((n, notification::Column::Class))).into(), Order::Asc)
            .order_by_expr(Func::min(Expr::col((n, notification::Column::CreatedAt))).into(), Order::Asc)
            .limit(limit);
        let rows = self.conn().query_all(&q).await?;
        rows.iter()
            .map(|r| {
                let key: String = r.try_get("", "recipient")?;
                recipient_of(&key)
            })
            .collect()
    }

    /// Composes what waits for `recipient` into one delivery, if their window is open
    /// (emergencies go regardless). Returns the delivery's id, or `None` when there was
    /// nothing to send (another composer got there first, or the window is shut).
    pub async fn compose(
        &self,
        integration: &str,
        recipient: &Recipient,
        now: DateTime<Utc>,
        window: Duration,
        level: PacingLevel,
        render: impl FnOnce(&ComposeInput) -> Rendered,
    ) -> Result<Option<Uuid>, StoreError> {
        let key = recipient.key();
        let tx = self.write().await?;
        let mut items = notification::Entity::find()
            .filter(notification::Column::IntegrationId.eq(integration))
            .filter(notification::Column::Recipient.eq(&key))
            .filter(notification::Column::State.eq(NotificationState::Waiting.as_str()))
            .filter(notification::Column::NotBefore.lte(now))
            .filter(notification::Column::Class.lte(max_rank(level)))
            .order_by_asc(notification::Column::Id)
            .lock_with_behavior(LockType::Update, LockBehavior::SkipLocked)
            .all(&*tx)
            .await?;
        let emergency = NotifyClass::Emergency.rank();
        if items.iter().any(|i| i.class != emergency) && !claim_window(&*tx, &key, now, window).await? {
            // The window is shut: only a page may pass it.
            items.retain(|i| i.class == emergency);
        }
        if items.is_empty() {
            return Ok(None);
        }
        let class = class_of(items.iter().map(|i| i.class).min().unwrap_or(emergency))?;
        let bodies = items
            .iter()
            .map(|i| serde_json::from_str::<NotificationBody>(&i.body))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| StoreError::corrupt("notifications", e))?;
        let locale = match recipient {
            Recipient::Person(p) => person::Entity::find_by_id(p.as_uuid())
                .one(&*tx)
                .await?
                .map(|p| p.locale)
                .unwrap_or_else(|| "en".to_owned()),
            Recipient::Chat(_) => "en".to_owned(),
        };
        let input = ComposeInput { recipient: recipient.clone(), locale, items: bodies, class };
        let rendered = render(&input);
        let id = Uuid::now_v7();
        let (person_id, chat_id) = recipient_columns(recipient);
        delivery::Entity::insert(delivery::ActiveModel {
            id: Set(id),
            integration_id: Set(integration.to_owned()),
            recipient: Set(key),
            person_id: Set(person_id),
            chat_id: Set(chat_id),
            class: Set(class.rank()),
            kind: Set(rendered.kind.to_owned()),
            card: Set(rendered.card),
            items: Set(i32::try_from(items.len()).unwrap_or(i32::MAX)),
            state: Set(notify::DeliveryState::Ready.as_str().to_owned()),
            attempts: Set(0),
            next_attempt_at: Set(now),
            lease_until: Set(None),
            last_error: Set(None),
            message_id: Set(None),
            created_at: Set(now),
            sent_at: Set(None),
            updated_at: Set(now),
        })
        .exec_without_returning(&*tx)
        .await?;
        notification::Entity::update_many()
            .col_expr(notification::Column::State, Expr::value(NotificationState::Batched.as_str()))
            .col_expr(notification::Column::DeliveryId, Expr::value(id))
            .filter(notification::Column::Id.is_in(items.iter().map(|i| i.id)))
            .exec(&*tx)
            .await?;
        tx.commit().await?;
        Ok(Some(id))
    }
}

impl Store {
    /// Takes a window of its own for `key` (e.g. the bot's answers to one Lark user) if
    /// it is open, in its own transaction: the same durable, race-free rule as the
    /// notification windows, for things that are not notifications.
    pub async fn claim_quiet_window(
        &self,
        key: &str,
        now: DateTime<Utc>,
        window: Duration,
    ) -> Result<bool, StoreError> {
        let tx = self.write().await?;
        let claimed = claim_window(&*tx, key, now, window).await?;
        tx.commit().await?;
        Ok(claimed)
    }
}

/// Takes the recipient's window if it is open: one upsert that writes only when the
/// last delivery is at least `window` old. Concurrent claimants serialise on the row,
/// and only the first sees its write happen.
async fn claim_window<C: ConnectionTrait>(
    db: &C,
    key: &str,
    now: DateTime<Utc>,
    window: Duration,
) -> Result<bool, StoreError> {
    let w = notify_window::Entity;
    let mut q = Query::insert();
    q.into_table(w)
        .columns([notify_window::Column::Recipient, notify_window::Column::LastSentAt])
        .values([key.into(), now.into()])
        .map_err(|e| StoreError::corrupt("notify_windows", e))?
        .on_conflict(
            OnConflict::column(notify_window::Column::Recipient)
                .update_column(notify_window::Column::LastSentAt)
                .action_and_where(Expr::col((w, notify_window::Column::LastSentAt)).lte(cutoff(now, window)))
                .to_owned(),
        );
    Ok(db.execute(&q).await?.rows_affected() == 1)
}
