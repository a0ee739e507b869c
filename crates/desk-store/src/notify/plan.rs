//! Planning: outbox events become notifications, one per recipient, by the rules of
//! `desk_core::notify::RULES`. Planning reads the world as it is now (the ticket's
//! assignee, the organisation's TAM and chat), so a card shows current facts.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, Utc};
use desk_core::notify::{self, Audience, Happening, NotificationBody, NotifyClass, Recipient, TicketSummary};
use desk_core::{ActorKind, PersonId, TimelineEvent};
use sea_orm::sea_query::{Expr, LockBehavior, LockType};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use uuid::Uuid;

use super::{NotificationState, Routes, insert_notifications, quiet_hold};
use crate::entity::{comment, lark_chat, notification, org, outbox_event, person, ticket, timeline_entry};
use crate::{Store, StoreError};

/// What one planning pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PlanReport {
    /// Outbox events consumed.
    pub events: usize,
    /// Notifications written.
    pub notifications: usize,
}

/// Everything the rules need about the events of one pass, loaded in a few queries.
struct World {
    tickets: HashMap<Uuid, ticket::Model>,
    orgs: HashMap<Uuid, org::Model>,
    people: HashMap<Uuid, person::Model>,
    comments: HashMap<Uuid, comment::Model>,
    /// Each ticket's own Lark group, where it has a live one.
    ticket_chats: HashMap<Uuid, String>,
    routes: Routes,
}

impl World {
    async fn load<C: ConnectionTrait>(
        db: &C,
        entries: &[(timeline_entry::Model, TimelineEvent)],
    ) -> Result<Self, StoreError> {
        let ticket_ids: HashSet<Uuid> = entries.iter().map(|(e, _)| e.ticket_id).collect();
        let tickets: HashMap<Uuid, ticket::Model> = ticket::Entity::find()
            .filter(ticket::Column::Id.is_in(ticket_ids))
            .all(db)
            .await?
            .into_iter()
            .map(|t| (t.id, t))
            .collect();
        let org_ids: HashSet<Uuid> = tickets.values().map(|t| t.org_id).collect();
        let orgs: HashMap<Uuid, org::Model> = org::Entity::find()
            .filter(org::Column::Id.is_in(org_ids))
            .all(db)
            .await?
            .into_iter()
            .map(|o| (o.id, o))
            .collect();
        let comment_ids: Vec<Uuid> = entries
            .iter()
            .filter_map(|(_, ev)| match ev {
                TimelineEvent::Commented { comment_id, .. } => Some(comment_id.as_uuid()),
                _ => None,
            })
            .collect();
        let comments = if comment_ids.is_empty() {
            HashMap::new()
        } else {
            comment::Entity::find()
                .filter(comment::Column::Id.is_in(comment_ids))
                .all(db)
                .await?
                .into_iter()
                .map(|c| (c.id, c))
                .collect()
        };
        let mut person_ids: HashSet<Uuid> = HashSet::new();
        for t in tickets.values() {
            person_ids.extend(t.assignee_id);
            person_ids.extend(t.requester_id);
        }
        person_ids.extend(orgs.values().filter_map(|o| o.tam_id));
        for (_, ev) in entries {
            if let TimelineEvent::Assigned { to: Some(to), .. } = ev {
                person_ids.insert(to.as_uuid());
            }
        }
        let people = person::Entity::find()
            .filter(person::Column::Id.is_in(person_ids))
            .all(db)
            .await?
            .into_iter()
            .map(|p| (p.id, p))
            .collect();
        let ticket_chats = lark_chat::Entity::find()
            .filter(lark_chat::Column::TicketId.is_in(tickets.keys().copied()))
            .filter(lark_chat::Column::State.eq(crate::ChatState::Active.as_str()))
            .all(db)
            .await?
            .into_iter()
            .filter_map(|c| Some((c.ticket_id?, c.chat_id?)))
            .collect();
        let routes = Routes::load(db).await?;
        Ok(Self { tickets, orgs, people, comments, ticket_chats, routes })
    }

    fn active_person(&self, id: Option<Uuid>) -> Option<&person::Model> {
        id.and_then(|id| self.people.get(&id)).filter(|p| p.active)
    }

    /// Who `audience` means for this event.
    fn recipients(&self, audience: Audience, ticket: &ticket::Model, event: &TimelineEvent) -> Vec<Recipient> {
        let person = |id: Option<Uuid>| self.active_person(id).map(|p| Recipient::Person(PersonId::from_uuid(p.id)));
        match audience {
            Audience::Assignee => person(ticket.assignee_id).into_iter().collect(),
            Audience::Requester => person(ticket.requester_id).into_iter().collect(),
            Audience::Tam => person(self.orgs.get(&ticket.org_id).and_then(|o| o.tam_id)).into_iter().collect(),
            Audience::NewAssignee => match event {
                TimelineEvent::Assigned { to, .. } => person(to.map(|p| p.as_uuid())).into_iter().collect(),
                _ => Vec::new(),
            },
            // Said in the ticket's own group: everyone there has read it already.
            Audience::TicketGroup if matches!(event, TimelineEvent::Commented { in_group: true, .. }) => Vec::new(),
            Audience::TicketGroup => {
                // The ticket's own group once it has one; until then the organisation's
                // main service group, where everyone concerned sits. Without either, the
                // people on the ticket are told directly.
                let own = self.ticket_chats.get(&ticket.id).cloned();
                match own.or_else(|| self.orgs.get(&ticket.org_id).and_then(|o| o.main_chat_id.clone())) {
                    Some(chat) => vec![Recipient::Chat(chat)],
                    None => person(ticket.requester_id).into_iter().chain(person(ticket.assignee_id)).collect(),
                }
            }
        }
    }

    fn summary(&self, ticket: &ticket::Model) -> Result<TicketSummary, StoreError> {
        let corrupt = |e| StoreError::corrupt("tickets", e);
        Ok(TicketSummary {
            id: ticket.id.to_string(),
            number: ticket.number,
            title: ticket.title.clone(),
            severity: ticket.severity.parse().map_err(corrupt)?,
            status: ticket.status.parse().map_err(corrupt)?,
            assignee: ticket.assignee_id.and_then(|a| self.people.get(&a)).map(|p| p.name.clone()),
            org_id: ticket.org_id.to_string(),
        })
    }

    fn happening(&self, event: &TimelineEvent) -> Option<Happening> {
        match event {
            TimelineEvent::Created { .. } => Some(Happening::Created),
            TimelineEvent::Assigned { to_name, .. } => Some(Happening::Assigned { to: to_name.clone() }),
            TimelineEvent::StatusChanged { from, to, reason } => {
                Some(Happening::StatusChanged { from: *from, to: *to, reason: reason.clone() })
            }
            TimelineEvent::Commented { comment_id, visibility, .. } => Some(Happening::Commented {
                excerpt: self.comments.get(&comment_id.as_uuid()).map(|c| notify::excerpt(&c.body)).unwrap_or_default(),
                internal: *visibility == desk_core::CommentVisibility::Internal,
            }),
            TimelineEvent::Escalated { level_name, reason, .. } => {
                Some(Happening::Escalated { level: level_name.clone(), reason: notify::excerpt(reason) })
            }
            TimelineEvent::EmergencyDeclared { kind, text } => {
                Some(Happening::EmergencyDeclared { emergency_kind: *kind, text: notify::excerpt(text) })
            }
            TimelineEvent::EmergencyAcknowledged => Some(Happening::EmergencyAcknowledged),
            TimelineEvent::TitleChanged { .. }
            | TimelineEvent::DescriptionChanged
            | TimelineEvent::SeverityChanged { .. } => None,
            TimelineEvent::MemberInvited { .. } => None,
            TimelineEvent::MemberAdded { .. } | TimelineEvent::MemberRemoved { .. } => None,
            TimelineEvent::Paged { .. }
            | TimelineEvent::ResponseWarning { .. }
            | TimelineEvent::ResponseBreached { .. } => None,
        }
    }
}

impl Store {
    /// Turns up to `limit` outbox events into notifications, in one transaction: the
    /// events are consumed exactly when their notifications are written. On PostgreSQL
    /// concurrent planners take disjoint events (`SKIP LOCKED`).
    pub async fn plan_notifications(&self, limit: u64, now: DateTime<Utc>) -> Result<PlanReport, StoreError> {
        // A look before the write transaction: on SQLite an idle pass then never takes
        // the single writer's turn from a request.
        if outbox_event::Entity::find().one(self.conn()).await?.is_none() {
            return Ok(PlanReport::default());
        }
        let tx = self.write().await?;
        let events = outbox_event::Entity::find()
            .order_by_asc(outbox_event::Column::Id)
            .limit(limit)
            .lock_with_behavior(LockType::Update, LockBehavior::SkipLocked)
            .all(&*tx)
            .await?;
        if events.is_empty() {
            return Ok(PlanReport::default());
        }
        let ids: Vec<Uuid> = events.iter().map(|e| e.id).collect();
        let entries = crate::tickets::entries_with_events(&*tx, &ids).await?;
        let world = World::load(&*tx, &entries).await?;
        // Organisations' own reminder rules apply beside the built-in ones (see
        // `hooks::reminders`); the people they name are known to the world too.
        let reminders = crate::hooks::reminders::Reminders::load(&*tx, world.orgs.keys().copied()).await?;
        let mut world = world;
        world.people.extend(reminders.people().map(|p| (p.id, p.clone())));

        let mut rows = Vec::new();
        for (entry, event) in &entries {
            let Some(ticket) = world.tickets.get(&entry.ticket_id) else { continue };
            let actor_kind = ActorKind::parse(&entry.actor_kind)
                .ok_or_else(|| StoreError::corrupt("timeline_entries", format!("actor kind {}", entry.actor_kind)))?;
            let (Some(trigger), Some(happening)) = (notify::trigger_of(event, actor_kind), world.happening(event))
            else {
                continue;
            };
            // One notification per recipient per event, at the most urgent class any rule gave.
            let mut told: BTreeMap<Recipient, NotifyClass> = BTreeMap::new();
            for rule in notify::rules_for(trigger) {
                for r in world.recipients(rule.audience, ticket, event) {
                    // Nobody is told about what they did themselves.
                    if matches!(&r, Recipient::Person(p) if Some(p.as_uuid()) == entry.actor_id) {
                        continue;
                    }
                    let class = told.entry(r).or_insert(rule.class);
                    *class = (*class).min(rule.class);
                }
            }
            for (audience, class) in reminders.matching(ticket.org_id, trigger, &ticket.severity) {
                let recipients = match audience {
                    desk_core::reminders::ReminderAudience::Role(a) => world.recipients(a, ticket, event),
                    desk_core::reminders::ReminderAudience::Person(p) => vec![Recipient::Person(p)],
                };
                crate::hooks::reminders::tell(&mut told, recipients, class, entry.actor_id);
            }
            if told.is_empty() {
                continue;
            }
            let body = NotificationBody {
                ticket: Some(world.summary(ticket)?),
                happening: happening.clone(),
                actor: entry.actor_name.clone(),
                at: entry.at,
            };
            let body = serde_json::to_string(&body).map_err(|e| StoreError::corrupt("notifications", e))?;
            let integration_id = world.routes.for_org(ticket.org_id);
            for (recipient, class) in told {
                let not_before = match &recipient {
                    Recipient::Person(p) => {
                        world.people.get(&p.as_uuid()).and_then(|p| quiet_hold(p, class, now)).unwrap_or(now)
                    }
                    Recipient::Chat(_) => now,
                };
                rows.push(super::NewNotification {
                    event_id: Some(entry.id),
                    ticket_id: Some(ticket.id),
                    org_id: Some(ticket.org_id),
                    integration_id: integration_id.clone(),
                    recipient,
                    class,
                    body: body.clone(),
                    not_before,
                    created_at: now,
                });
            }
            // Keep the trigger in the logs' vocabulary, not the body's.
            tracing::debug!(ticket.id = %ticket.id, trigger = trigger.as_str(), "planned notifications");
        }
        let written = rows.len();
        insert_notifications(&*tx, rows, NotificationState::Waiting).await?;
        outbox_event::Entity::delete_many().filter(outbox_event::Column::Id.is_in(ids)).exec(&*tx).await?;
        tx.commit().await?;
        Ok(PlanReport { events: events.len(), notifications: written })
    }
}

impl Store {
    /// Gives notifications planned while their organisation had no Lark integration to
    /// the integration that serves it now (its own app, else the default). Returns how
    /// many found a way out. Run it when the set of integrations changes.
    pub async fn adopt_unrouted(&self) -> Result<u64, StoreError> {
        let tx = self.write().await?;
        let routes = Routes::load(&*tx).await?;
        let adopt = |integration: &str| {
            notification::Entity::update_many()
                .col_expr(notification::Column::IntegrationId, Expr::value(integration.to_owned()))
                .filter(notification::Column::IntegrationId.is_null())
        };
        let mut adopted = 0;
        for (org, integration) in routes.owned() {
            adopted += adopt(integration).filter(notification::Column::OrgId.eq(org)).exec(&*tx).await?.rows_affected;
        }
        if let Some(default) = routes.default_integration() {
            let owned: Vec<Uuid> = routes.owned().map(|(org, _)| org).collect();
            adopted +=
                adopt(default).filter(notification::Column::OrgId.is_not_in(owned)).exec(&*tx).await?.rows_affected;
        }
        tx.commit().await?;
        Ok(adopted)
    }
}
