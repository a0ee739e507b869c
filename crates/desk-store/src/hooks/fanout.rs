//! The fan-out: outbox rows become one delivery per interested subscription, with the
//! message frozen at that moment (every retry sends the same bytes, under the same id).
//! Rows are consumed in the transaction that writes their deliveries, so an event is
//! fanned out exactly once.
//!
//! Only one fan-out runs at a time (on PostgreSQL a transaction-scoped advisory lock, on
//! SQLite the single writer): events are taken in timeline order, so the deliveries of one
//! ticket are made in the order its changes happened, which is the order the sender keeps
//! per subscriber.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use desk_core::webhooks::{
    DeliveryState, Message, MessageActor, MessageComment, MessageData, MessageExternalRef, Subscription,
    TicketSnapshot, event_type_of,
};
use desk_core::{ActorKind, PersonId, Ticket, TimelineEvent};
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Statement};
use uuid::Uuid;

use super::entity::{hook_ticket, webhook_delivery, webhook_event, webhook_subscription};
use super::intake::comment_origins;
use crate::entity::{comment, ticket};
use crate::{Backend, Store, StoreError};

/// The advisory lock key of the fan-out on PostgreSQL ("whfanout" in ASCII, as a number).
const FANOUT_LOCK: i64 = 0x7768_6661_6e6f_7574;

fn snapshot(t: &Ticket) -> TicketSnapshot {
    TicketSnapshot {
        id: t.id.as_uuid(),
        number: t.number,
        org_id: t.org_id,
        title: t.title.clone(),
        description: t.description.clone(),
        severity: t.severity,
        status: t.status,
        assignee_id: t.assignee_id,
        requester_id: t.requester_id,
        escalation_level: t.escalation_level,
        emergency: t.emergency.is_some(),
        external_refs: t
            .external_refs
            .iter()
            .map(|r| MessageExternalRef {
                system: r.system.clone(),
                external_id: r.external_id.clone(),
                url: r.url.clone(),
            })
            .collect(),
        created_at: t.created_at,
        updated_at: t.updated_at,
    }
}

impl Store {
    /// Fans out up to `limit` outbox rows. Returns how many were consumed (0 when another
    /// instance is fanning out right now, or nothing waits).
    pub async fn fan_out_webhooks(&self, limit: u64, now: DateTime<Utc>) -> Result<usize, StoreError> {
        // A look before the write transaction: an idle pass never takes SQLite's writer turn.
        if webhook_event::Entity::find().one(self.conn()).await?.is_none() {
            return Ok(0);
        }
        let tx = self.write().await?;
        if self.backend() == Backend::Postgres {
            let row = tx
                .query_one_raw(Statement::from_string(
                    sea_orm::DbBackend::Postgres,
                    format!("SELECT pg_try_advisory_xact_lock({FANOUT_LOCK}) AS got"),
                ))
                .await?;
            let got = row.map(|r| r.try_get::<bool>("", "got")).transpose()?.unwrap_or(false);
            if !got {
                return Ok(0);
            }
        }
        let events =
            webhook_event::Entity::find().order_by_asc(webhook_event::Column::Id).limit(limit).all(&*tx).await?;
        // A ticket a ticketing source is changing right now waits: its changes are not all
        // written yet, nor known to be the source's own (which that source must not hear back).
        let held: HashSet<Uuid> = hook_ticket::Entity::find()
            .select_only()
            .column(hook_ticket::Column::TicketId)
            .filter(hook_ticket::Column::TicketId.is_in(events.iter().map(|e| e.ticket_id).collect::<HashSet<_>>()))
            .filter(hook_ticket::Column::LeaseUntil.gt(now))
            .into_tuple::<Option<Uuid>>()
            .all(&*tx)
            .await?
            .into_iter()
            .flatten()
            .collect();
        let events: Vec<webhook_event::Model> = events.into_iter().filter(|e| !held.contains(&e.ticket_id)).collect();
        if events.is_empty() {
            return Ok(0);
        }
        let ids: Vec<Uuid> = events.iter().map(|e| e.id).collect();
        let subscriptions: Vec<Subscription> = webhook_subscription::Entity::find()
            .filter(webhook_subscription::Column::Enabled.eq(true))
            .order_by_asc(webhook_subscription::Column::Id)
            .all(&*tx)
            .await?
            .into_iter()
            .map(super::subscriptions::to_domain)
            .collect::<Result<_, _>>()?;
        let mut deliveries = Vec::new();
        if !subscriptions.is_empty() {
            let entries = crate::tickets::entries_with_events(&*tx, &ids).await?;
            let ticket_ids: HashSet<Uuid> = entries.iter().map(|(m, _)| m.ticket_id).collect();
            let models = ticket::Entity::find().filter(ticket::Column::Id.is_in(ticket_ids)).all(&*tx).await?;
            let tickets: HashMap<Uuid, Ticket> =
                crate::tickets::with_refs(&*tx, models).await?.into_iter().map(|t| (t.id.as_uuid(), t)).collect();
            let comment_ids: Vec<Uuid> = entries
                .iter()
                .filter_map(|(_, e)| match e {
                    TimelineEvent::Commented { comment_id, .. } => Some(comment_id.as_uuid()),
                    _ => None,
                })
                .collect();
            let origins = comment_origins(&*tx, comment_ids.iter().copied()).await?;
            let comments: HashMap<Uuid, comment::Model> = if comment_ids.is_empty() {
                HashMap::new()
            } else {
                comment::Entity::find()
                    .filter(comment::Column::Id.is_in(comment_ids))
                    .all(&*tx)
                    .await?
                    .into_iter()
                    .map(|c| (c.id, c))
                    .collect()
            };
            for (entry, event) in entries {
                let (Some(event_type), Some(ticket)) = (event_type_of(&event), tickets.get(&entry.ticket_id)) else {
                    continue;
                };
                let comment = match &event {
                    TimelineEvent::Commented { comment_id, .. } => comments.get(&comment_id.as_uuid()),
                    _ => None,
                };
                let origin = desk_core::hooks::source_of_actor(&entry.actor_kind, &entry.actor_name)
                    .map(str::to_owned)
                    .or_else(|| comment.and_then(|c| origins.get(&c.id).cloned()));
                let interested: Vec<&Subscription> =
                    subscriptions.iter().filter(|s| s.wants(event_type, ticket.org_id, origin.as_deref())).collect();
                if interested.is_empty() {
                    continue;
                }
                let actor_kind = ActorKind::parse(&entry.actor_kind).ok_or_else(|| {
                    StoreError::corrupt("timeline_entries", format!("actor kind {}", entry.actor_kind))
                })?;
                let message = Message {
                    event_type: event_type.as_str().to_owned(),
                    timestamp: now,
                    data: MessageData {
                        event_id: entry.id,
                        occurred_at: entry.at,
                        actor: MessageActor {
                            kind: actor_kind,
                            person_id: entry.actor_id.map(PersonId::from_uuid),
                            name: entry.actor_name.clone(),
                        },
                        origin,
                        comment: comment.map(|c| MessageComment {
                            id: c.id,
                            body: c.body.clone(),
                            visibility: c.visibility.parse().unwrap_or(desk_core::CommentVisibility::Internal),
                            author_name: c.author_name.clone(),
                            author_id: c.author_id.map(PersonId::from_uuid),
                        }),
                        change: event,
                        ticket: snapshot(ticket),
                    },
                };
                let payload =
                    serde_json::to_string(&message).map_err(|e| StoreError::corrupt("webhook_deliveries", e))?;
                for s in interested {
                    deliveries.push(webhook_delivery::ActiveModel {
                        id: Set(Uuid::now_v7()),
                        subscription_id: Set(s.id),
                        event_id: Set(entry.id),
                        event_type: Set(event_type.as_str().to_owned()),
                        ticket_id: Set(Some(entry.ticket_id)),
                        payload: Set(payload.clone()),
                        state: Set(DeliveryState::Pending.as_str().to_owned()),
                        attempts: Set(0),
                        next_attempt_at: Set(now),
                        lease_until: Set(None),
                        last_status: Set(None),
                        last_error: Set(None),
                        last_attempt_at: Set(None),
                        delivered_at: Set(None),
                        window_start: Set(now),
                        created_at: Set(now),
                    });
                }
            }
        }
        for chunk in deliveries.chunks(200) {
            webhook_delivery::Entity::insert_many(chunk.to_vec())
                .on_conflict(
                    OnConflict::columns([webhook_delivery::Column::SubscriptionId, webhook_delivery::Column::EventId])
                        .do_nothing()
                        .to_owned(),
                )
                .exec_without_returning(&*tx)
                .await?;
        }
        webhook_event::Entity::delete_many().filter(webhook_event::Column::Id.is_in(ids)).exec(&*tx).await?;
        tx.commit().await?;
        Ok(events.len())
    }
}
