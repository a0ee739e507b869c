//! The notification queue, in three durable stages:
//!
//! 1. **outbox events**: written in the same transaction as the change (see `tickets`);
//! 2. **notifications**: one per recipient, planned from the events by the rules
//!    (`plan`), waiting for the recipient's window to open (`compose`);
//! 3. **deliveries**: one Lark call each, carrying one card or a digest of everything
//!    that waited, claimed by senders under a lease (`deliver`).
//!
//! The per-recipient windows and the monthly budget live here too (`budget`). Every
//! stage is a transaction, so a crash anywhere leaves each notification either done or
//! still queued; queue claims use `FOR UPDATE SKIP LOCKED` so that several `desk`
//! instances on one PostgreSQL database never take the same work.

use chrono::{DateTime, Utc};
use desk_core::notify::{NotificationBody, NotifyClass, Recipient};
use desk_core::{OrgId, QuietHours};
use sea_orm::ActiveValue::Set;
use sea_orm::{ConnectionTrait, EntityTrait};
use uuid::Uuid;

use crate::entity::{integration, notification, person};
use crate::{Store, StoreError};

mod budget;
mod compose;
mod deliver;
mod plan;

pub use budget::{BudgetUsage, LedgerEntry, LedgerSummary};
pub use compose::{ComposeInput, Rendered};
pub use deliver::{DeliveryFilter, Outgoing};
pub use plan::PlanReport;

/// Where a notification stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NotificationState {
    /// Waiting for its recipient's window (or quiet hours) to open.
    Waiting,
    /// Carried by a delivery.
    Batched,
}

impl NotificationState {
    pub(crate) const fn as_str(self) -> &'static str {
        match self {
            Self::Waiting => "waiting",
            Self::Batched => "batched",
        }
    }
}

/// A notification to write.
#[derive(Debug, Clone)]
pub(crate) struct NewNotification {
    pub(crate) event_id: Option<Uuid>,
    pub(crate) ticket_id: Option<Uuid>,
    pub(crate) org_id: Option<Uuid>,
    pub(crate) integration_id: Option<String>,
    pub(crate) recipient: Recipient,
    pub(crate) class: NotifyClass,
    /// `NotificationBody` as JSON.
    pub(crate) body: String,
    pub(crate) not_before: DateTime<Utc>,
    pub(crate) created_at: DateTime<Utc>,
}

/// Which integration carries each organisation's notifications: its own Lark app, else
/// the single-tenant `default` integration (one made from the `DESK_LARK_*` settings).
#[derive(Debug, Default)]
pub(crate) struct Routes {
    by_org: std::collections::HashMap<Uuid, String>,
    default: Option<String>,
}

impl Routes {
    pub(crate) async fn load<C: ConnectionTrait>(db: &C) -> Result<Self, StoreError> {
        let mut routes = Self::default();
        for i in integration::Entity::find().all(db).await? {
            match i.org_id {
                Some(org) => {
                    routes.by_org.insert(org, i.id);
                }
                None if i.id == "default" => routes.default = Some(i.id),
                None => {}
            }
        }
        Ok(routes)
    }

    /// The integration of `org`, if it has a way to Lark at all.
    pub(crate) fn for_org(&self, org: Uuid) -> Option<String> {
        self.by_org.get(&org).or(self.default.as_ref()).cloned()
    }

    /// Organisations with an app of their own, and that app.
    pub(crate) fn owned(&self) -> impl Iterator<Item = (Uuid, &str)> {
        self.by_org.iter().map(|(org, id)| (*org, id.as_str()))
    }

    /// The default integration, if there is one.
    pub(crate) fn default_integration(&self) -> Option<&str> {
        self.default.as_deref()
    }
}

/// A recipient as the `person_id` / `chat_id` columns hold it.
pub(crate) fn recipient_columns(recipient: &Recipient) -> (Option<Uuid>, Option<String>) {
    match recipient {
        Recipient::Person(p) => (Some(p.as_uuid()), None),
        Recipient::Chat(c) => (None, Some(c.clone())),
    }
}

/// Most rows per multi-row insert: well inside SQLite's bound-parameter limit.
const INSERT_CHUNK: usize = 500;

pub(crate) async fn insert_notifications<C: ConnectionTrait>(
    db: &C,
    rows: Vec<NewNotification>,
    state: NotificationState,
) -> Result<(), StoreError> {
    let models: Vec<notification::ActiveModel> = rows
        .into_iter()
        .map(|n| {
            let (person_id, chat_id) = recipient_columns(&n.recipient);
            notification::ActiveModel {
                id: Set(Uuid::now_v7()),
                event_id: Set(n.event_id),
                ticket_id: Set(n.ticket_id),
                org_id: Set(n.org_id),
                integration_id: Set(n.integration_id),
                recipient: Set(n.recipient.key()),
                person_id: Set(person_id),
                chat_id: Set(chat_id),
                class: Set(n.class.rank()),
                body: Set(n.body),
                state: Set(state.as_str().to_owned()),
                not_before: Set(n.not_before),
                delivery_id: Set(None),
                created_at: Set(n.created_at),
            }
        })
        .collect();
    let mut models = models.into_iter().peekable();
    while models.peek().is_some() {
        let chunk: Vec<_> = models.by_ref().take(INSERT_CHUNK).collect();
        notification::Entity::insert_many(chunk).exec_without_returning(db).await?;
    }
    Ok(())
}

/// Until when a notification of `class` to `p` is held by their quiet hours, if at all.
/// Emergencies are never held.
pub(crate) fn quiet_hold(p: &person::Model, class: NotifyClass, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    if class == NotifyClass::Emergency {
        return None;
    }
    let quiet = QuietHours::parse(p.quiet_start.as_deref()?, p.quiet_end.as_deref()?).ok()?;
    quiet.hold_until(&p.time_zone, now)
}

fn recipient_of(recipient: &str) -> Result<Recipient, StoreError> {
    Recipient::parse(recipient).ok_or_else(|| StoreError::corrupt("deliveries", format!("recipient {recipient}")))
}

fn class_of(rank: i16) -> Result<NotifyClass, StoreError> {
    NotifyClass::from_rank(rank).ok_or_else(|| StoreError::corrupt("notifications", format!("class {rank}")))
}

/// A notification asked for directly rather than planned from a ticket event: an
/// emergency page, a reminder, a notice to a TAM.
#[derive(Debug, Clone)]
pub struct NotificationRequest {
    /// The organisation it concerns: its integration carries it.
    pub org_id: OrgId,
    /// Who is told.
    pub recipient: Recipient,
    /// How urgently.
    pub class: NotifyClass,
    /// What it says.
    pub body: NotificationBody,
}

impl Store {
    /// Queues a notification in its own transaction. Callers that change something and
    /// notify about it should write the notification in the change's transaction instead.
    pub async fn enqueue_notification(&self, req: NotificationRequest, now: DateTime<Utc>) -> Result<(), StoreError> {
        let tx = self.write().await?;
        let org = crate::orgs::require_org(&*tx, req.org_id).await?;
        let integration_id = Routes::load(&*tx).await?.for_org(org.id);
        let not_before = match &req.recipient {
            Recipient::Person(p) => {
                person::Entity::find_by_id(p.as_uuid()).one(&*tx).await?.and_then(|p| quiet_hold(&p, req.class, now))
            }
            Recipient::Chat(_) => None,
        }
        .unwrap_or(now);
        let row = NewNotification {
            event_id: None,
            ticket_id: req.body.ticket.as_ref().and_then(|t| t.id.parse().ok()),
            org_id: Some(org.id),
            integration_id,
            recipient: req.recipient,
            class: req.class,
            body: serde_json::to_string(&req.body).map_err(|e| StoreError::corrupt("notifications", e))?,
            not_before,
            created_at: now,
        };
        insert_notifications(&*tx, vec![row], NotificationState::Waiting).await?;
        tx.commit().await
    }
}
