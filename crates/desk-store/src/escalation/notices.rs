//! Notifications the escalation writes itself, in the transaction of what caused them:
//! pages, warnings and breaches, the emergency card in the groups, the people of an
//! escalation level. (Ticket events the notification rules cover go through the outbox
//! instead.) Each is a row in `notifications`, so windows, quiet hours, the budget and
//! the dispatcher treat them like any other; a page is class `Emergency`, which skips
//! the window and quiet hours and may spend the emergency reserve.

use chrono::{DateTime, Utc};
use desk_core::notify::{Happening, NotificationBody, NotifyClass, Recipient, TicketSummary};
use desk_core::{PersonId, PersonKind};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use uuid::Uuid;

use crate::entity::{lark_chat, org, person, ticket};
use crate::notify::{NewNotification, NotificationState, Routes, insert_notifications, quiet_hold};
use crate::{ChatState, StoreError};

/// What notifications about one ticket need: its summary, who its people are, where its
/// groups are and which integration carries them. Loaded once per transaction.
pub(crate) struct TicketNotices {
    pub(crate) ticket: ticket::Model,
    pub(crate) org: org::Model,
    summary: TicketSummary,
    integration: Option<String>,
    /// The ticket's own live Lark group.
    pub(crate) ticket_chat: Option<String>,
}

impl TicketNotices {
    pub(crate) async fn load<C: ConnectionTrait>(
        db: &C,
        ticket: ticket::Model,
        org: org::Model,
    ) -> Result<Self, StoreError> {
        let corrupt = |e| StoreError::corrupt("tickets", e);
        let assignee = match ticket.assignee_id {
            Some(a) => person::Entity::find_by_id(a).one(db).await?.map(|p| p.name),
            None => None,
        };
        let summary = TicketSummary {
            id: ticket.id.to_string(),
            number: ticket.number,
            title: ticket.title.clone(),
            severity: ticket.severity.parse().map_err(corrupt)?,
            status: ticket.status.parse().map_err(corrupt)?,
            assignee,
            org_id: ticket.org_id.to_string(),
        };
        let ticket_chat = lark_chat::Entity::find()
            .filter(lark_chat::Column::TicketId.eq(ticket.id))
            .filter(lark_chat::Column::State.eq(ChatState::Active.as_str()))
            .one(db)
            .await?
            .and_then(|c| c.chat_id);
        let integration = Routes::load(db).await?.for_org(org.id);
        Ok(Self { ticket, org, summary, integration, ticket_chat })
    }

    /// The groups that show the emergency card: the ticket's own group and the main group,
    /// once each; the main group alone when the ticket has none of its own yet.
    pub(crate) fn emergency_chats(&self) -> Vec<String> {
        let mut chats: Vec<String> =
            [self.ticket_chat.clone(), self.org.main_chat_id.clone()].into_iter().flatten().collect();
        chats.dedup();
        chats
    }

    fn row(
        &self,
        recipient: Recipient,
        class: NotifyClass,
        happening: Happening,
        actor: &str,
        now: DateTime<Utc>,
        not_before: DateTime<Utc>,
    ) -> Result<NewNotification, StoreError> {
        let body = NotificationBody { ticket: Some(self.summary.clone()), happening, actor: actor.to_owned(), at: now };
        Ok(NewNotification {
            event_id: None,
            ticket_id: Some(self.ticket.id),
            org_id: Some(self.org.id),
            integration_id: self.integration.clone(),
            recipient,
            class,
            body: serde_json::to_string(&body).map_err(|e| StoreError::corrupt("notifications", e))?,
            not_before,
            created_at: now,
        })
    }

    /// Writes one notification per person (active ones; each once), the happening built
    /// for each reader's clock. Returns the people told.
    pub(crate) async fn to_people<C: ConnectionTrait>(
        &self,
        db: &C,
        people: &[PersonId],
        class: NotifyClass,
        actor: &str,
        now: DateTime<Utc>,
        happening: impl Fn(&person::Model) -> Happening,
    ) -> Result<Vec<person::Model>, StoreError> {
        let mut ids: Vec<Uuid> = Vec::new();
        for p in people {
            if !ids.contains(&p.as_uuid()) {
                ids.push(p.as_uuid());
            }
        }
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let found = person::Entity::find().filter(person::Column::Id.is_in(ids.clone())).all(db).await?;
        let mut told = Vec::new();
        let mut rows = Vec::new();
        for id in ids {
            let Some(p) = found.iter().find(|p| p.id == id).filter(|p| p.active) else { continue };
            let not_before = quiet_hold(p, class, now).unwrap_or(now);
            rows.push(self.row(
                Recipient::Person(PersonId::from_uuid(p.id)),
                class,
                happening(p),
                actor,
                now,
                not_before,
            )?);
            told.push(p.clone());
        }
        insert_notifications(db, rows, NotificationState::Waiting).await?;
        Ok(told)
    }

    /// Writes one notification per chat.
    pub(crate) async fn to_chats<C: ConnectionTrait>(
        &self,
        db: &C,
        chats: &[String],
        class: NotifyClass,
        actor: &str,
        now: DateTime<Utc>,
        happening: &Happening,
    ) -> Result<(), StoreError> {
        let rows = chats
            .iter()
            .map(|c| self.row(Recipient::Chat(c.clone()), class, happening.clone(), actor, now, now))
            .collect::<Result<Vec<_>, _>>()?;
        insert_notifications(db, rows, NotificationState::Waiting).await
    }
}

/// The ids of active staff among `ids`, in order, each once.
pub(crate) async fn active_staff<C: ConnectionTrait>(db: &C, ids: &[Uuid]) -> Result<Vec<person::Model>, StoreError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let found = person::Entity::find().filter(person::Column::Id.is_in(ids.to_vec())).all(db).await?;
    Ok(ids
        .iter()
        .filter_map(|id| found.iter().find(|p| p.id == *id))
        .filter(|p| p.active && p.kind == PersonKind::Staff.as_str())
        .cloned()
        .collect())
}
