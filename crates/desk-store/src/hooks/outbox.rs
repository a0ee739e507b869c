//! The webhook outbox: one `webhook_events` row per timeline entry, written by
//! `TimelineRows::insert` in the transaction of the change itself, so a committed change
//! is always announced and an uncommitted one never is.
//!
//! While no subscription is enabled nothing is written (one indexed look at a small
//! table per change instead of a row per entry). A subscription therefore hears of the
//! changes committed after it was created or enabled, not of older ones.

use chrono::{DateTime, Utc};
use sea_orm::ActiveValue;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect};
use uuid::Uuid;

use super::entity::{webhook_event, webhook_subscription};
use crate::StoreError;
use crate::entity::timeline_entry;

fn value<V: Into<sea_orm::Value>>(v: &ActiveValue<V>) -> Option<&V> {
    match v {
        ActiveValue::Set(x) | ActiveValue::Unchanged(x) => Some(x),
        ActiveValue::NotSet => None,
    }
}

/// The outbox rows of these timeline entries (taken before the entries are inserted).
pub(crate) fn rows_for(entries: &[timeline_entry::ActiveModel]) -> Vec<webhook_event::ActiveModel> {
    entries
        .iter()
        .filter_map(|e| {
            let id: Uuid = *value(&e.id)?;
            let ticket: Uuid = *value(&e.ticket_id)?;
            let at: DateTime<Utc> = *value(&e.at)?;
            Some(webhook_event::ActiveModel {
                id: ActiveValue::Set(id),
                ticket_id: ActiveValue::Set(ticket),
                created_at: ActiveValue::Set(at),
            })
        })
        .collect()
}

/// Writes outbox rows, if any subscription would hear of them.
pub(crate) async fn insert<C: ConnectionTrait>(
    db: &C,
    rows: Vec<webhook_event::ActiveModel>,
) -> Result<(), StoreError> {
    if rows.is_empty() {
        return Ok(());
    }
    let listening = webhook_subscription::Entity::find()
        .select_only()
        .column(webhook_subscription::Column::Id)
        .filter(webhook_subscription::Column::Enabled.eq(true))
        .into_tuple::<Uuid>()
        .one(db)
        .await?
        .is_some();
    if listening {
        webhook_event::Entity::insert_many(rows).exec_without_returning(db).await?;
    }
    Ok(())
}
