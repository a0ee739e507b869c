//! Tickets, comments and the timeline. Every change writes its timeline entry in the
//! same transaction, so the timeline never misses or invents a change.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use desk_core::{
    Acknowledged, Actor, ActorKind, Comment, CommentId, DomainError, Emergency, ExternalRef, NewComment, NewTicket,
    OrgId, PersonId, Severity, Ticket, TicketId, TicketPatch, TicketStatus, TimelineEntry, TimelineEntryId,
    TimelineEvent, check_transition, notify,
};
use sea_orm::sea_query::{Condition, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, Order, QueryFilter,
    QueryOrder, QuerySelect,
};
use uuid::Uuid;

use crate::entity::{comment, external_ref, outbox_event, ticket, timeline_entry};
use crate::orgs::{contains_pattern, lower};
use crate::pagination::{Cursor, Page, PageRequest, oldest_first};
use crate::{Store, StoreError, people};

mod create;
mod escalation;

use create::CreateRequest;
pub(crate) use create::TicketWriter;
pub use escalation::{EmergencyAcknowledgement, EmergencyDeclaration, Escalation};

/// Which tickets to list.
#[derive(Debug, Clone, Default)]
pub struct TicketFilter {
    /// Of this organisation.
    pub org_id: Option<OrgId>,
    /// In any of these statuses (empty: any).
    pub statuses: Vec<TicketStatus>,
    /// Of any of these severities (empty: any).
    pub severities: Vec<Severity>,
    /// Assigned to this person (`Some(None)`: unassigned).
    pub assignee: Option<Option<PersonId>>,
    /// Asked by this person.
    pub requester_id: Option<PersonId>,
    /// Changed at or after this instant.
    pub updated_since: Option<DateTime<Utc>>,
    /// Text in the title (case-insensitive).
    pub q: Option<String>,
    /// Only emergencies (or only non-emergencies).
    pub emergency: Option<bool>,
}

/// The order of a ticket list.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum TicketOrder {
    /// Newest first (the default).
    #[default]
    Newest,
    /// Oldest first.
    Oldest,
    /// Least recently updated first: with `updated_since`, what a sync client walks.
    Updated,
}

impl TicketOrder {
    /// Whether `cursor` can continue a list in this order: the `updated` order resumes
    /// from a time, so a cursor without one (forged, never issued) cannot.
    pub fn accepts(self, cursor: &Cursor) -> bool {
        self != Self::Updated || cursor.at.is_some()
    }

    fn scope(self) -> &'static str {
        match self {
            Self::Newest => "tickets:newest",
            Self::Oldest => "tickets:oldest",
            Self::Updated => "tickets:updated",
        }
    }
}

/// The emergency recorded on a ticket row, if it is in one.
fn emergency_of(m: &ticket::Model) -> Result<Option<Emergency>, StoreError> {
    if !m.emergency {
        return Ok(None);
    }
    let (Some(kind), Some(declared_at)) = (m.emergency_kind.as_deref(), m.emergency_declared_at) else {
        return Err(StoreError::corrupt("tickets", format!("ticket {} is in emergency without a declaration", m.id)));
    };
    let acknowledged = match (m.acknowledged_at, &m.acknowledged_by_name) {
        (Some(at), Some(name)) => {
            Some(Acknowledged { by: m.acknowledged_by.map(PersonId::from_uuid), by_name: name.clone(), at })
        }
        (None, _) => None,
        (Some(_), None) => {
            return Err(StoreError::corrupt("tickets", format!("ticket {} acknowledged by nobody", m.id)));
        }
    };
    Ok(Some(Emergency {
        kind: kind.parse().map_err(|e| StoreError::corrupt("tickets", e))?,
        text: m.emergency_text.clone().unwrap_or_default(),
        declared_at,
        declared_by: m.emergency_declared_by.map(PersonId::from_uuid),
        declared_by_name: m.emergency_declared_by_name.clone().unwrap_or_default(),
        acknowledged,
    }))
}

pub(crate) fn to_domain(m: ticket::Model, external_refs: Vec<ExternalRef>) -> Result<Ticket, StoreError> {
    let corrupt = |e: DomainError| StoreError::corrupt("tickets", e);
    let emergency = emergency_of(&m)?;
    Ok(Ticket {
        id: TicketId::from_uuid(m.id),
        number: m.number,
        org_id: OrgId::from_uuid(m.org_id),
        requester_id: m.requester_id.map(PersonId::from_uuid),
        title: m.title,
        description: m.description,
        severity: m.severity.parse().map_err(corrupt)?,
        status: m.status.parse().map_err(corrupt)?,
        assignee_id: m.assignee_id.map(PersonId::from_uuid),
        escalation_level: m.escalation_level,
        escalated_at: m.escalated_at,
        emergency,
        external_refs,
        created_at: m.created_at,
        updated_at: m.updated_at,
        resolved_at: m.resolved_at,
        closed_at: m.closed_at,
    })
}

/// Loads the external references of `models` in one query and builds the tickets.
pub(crate) async fn with_refs<C: ConnectionTrait>(
    db: &C,
    models: Vec<ticket::Model>,
) -> Result<Vec<Ticket>, StoreError> {
    if models.is_empty() {
        return Ok(Vec::new());
    }
    let mut refs: HashMap<Uuid, Vec<ExternalRef>> = HashMap::new();
    let rows = external_ref::Entity::find()
        .filter(external_ref::Column::TicketId.is_in(models.iter().map(|m| m.id)))
        .order_by(external_ref::Column::System, Order::Asc)
        .all(db)
        .await?;
    for r in rows {
        refs.entry(r.ticket_id).or_default().push(ExternalRef {
            system: r.system,
            external_id: r.external_id,
            url: r.url,
        });
    }
    models
        .into_iter()
        .map(|m| {
            let r = refs.remove(&m.id).unwrap_or_default();
            to_domain(m, r)
        })
        .collect()
}

/// The event a timeline row records.
pub(crate) fn event_of(m: &timeline_entry::Model) -> Result<TimelineEvent, StoreError> {
    serde_json::from_str(&m.data).map_err(|e| StoreError::corrupt("timeline_entries", e))
}

/// The timeline rows `ids` (outbox rows share their entry's id), oldest first, each with
/// its event.
pub(crate) async fn entries_with_events<C: ConnectionTrait>(
    db: &C,
    ids: &[Uuid],
) -> Result<Vec<(timeline_entry::Model, TimelineEvent)>, StoreError> {
    timeline_entry::Entity::find()
        .filter(timeline_entry::Column::Id.is_in(ids.to_vec()))
        .order_by(timeline_entry::Column::Id, Order::Asc)
        .all(db)
        .await?
        .into_iter()
        .map(|m| event_of(&m).map(|event| (m, event)))
        .collect()
}

/// Reads a ticket row, locking it for the rest of the transaction on PostgreSQL so that
/// concurrent changes to one ticket apply one after the other.
async fn lock_ticket<C: ConnectionTrait>(db: &C, id: TicketId) -> Result<ticket::Model, StoreError> {
    ticket::Entity::find_by_id(id.as_uuid())
        .lock_exclusive()
        .one(db)
        .await?
        .ok_or_else(|| StoreError::not_found("ticket", id))
}

async fn load_one<C: ConnectionTrait>(db: &C, model: ticket::Model) -> Result<Ticket, StoreError> {
    with_refs(db, vec![model]).await?.pop().ok_or_else(|| StoreError::corrupt("tickets", "row vanished"))
}

/// The rows one change writes: its timeline entries, and an outbox event for each entry
/// some notification rule cares about (written in the same transaction, so a change is
/// never recorded without its notifications, nor notified without being recorded).
#[derive(Debug, Default)]
pub(crate) struct TimelineRows {
    pub(crate) entries: Vec<timeline_entry::ActiveModel>,
    pub(crate) outbox: Vec<outbox_event::ActiveModel>,
    /// The entries that move response timers, kept as built (not read back from the rows).
    timer_changes: crate::escalation::timers::Changes,
}

impl TimelineRows {
    pub(crate) fn extend(&mut self, other: Self) {
        self.entries.extend(other.entries);
        self.outbox.extend(other.outbox);
        self.timer_changes.extend(other.timer_changes);
    }

    /// Inserts the rows, a statement per table.
    pub(crate) async fn insert<C: ConnectionTrait>(self, db: &C) -> Result<(), StoreError> {
        // Webhook subscribers hear of every entry, through their own outbox.
        let webhook_events = crate::hooks::outbox::rows_for(&self.entries);
        if !self.entries.is_empty() {
            timeline_entry::Entity::insert_many(self.entries).exec_without_returning(db).await?;
        }
        if !self.outbox.is_empty() {
            outbox_event::Entity::insert_many(self.outbox).exec_without_returning(db).await?;
        }
        crate::hooks::outbox::insert(db, webhook_events).await?;
        // The response timers follow the ticket in the same transaction.
        crate::escalation::timers::on_changes(db, self.timer_changes).await
    }
}

/// Builds timeline rows (and their outbox events) for `events`, in order.
pub(crate) fn timeline_rows(
    ticket: Uuid,
    actor: &Actor,
    events: &[TimelineEvent],
    now: DateTime<Utc>,
) -> Result<TimelineRows, StoreError> {
    let mut rows = TimelineRows::default();
    for event in events {
        let data = serde_json::to_string(event).map_err(|e| StoreError::corrupt("timeline_entries", e))?;
        // v7 ids from one process increase, so the entries keep their order.
        let id = Uuid::now_v7();
        rows.entries.push(timeline_entry::ActiveModel {
            id: Set(id),
            ticket_id: Set(ticket),
            at: Set(now),
            actor_kind: Set(actor.kind.as_str().to_owned()),
            actor_id: Set(actor.person_id.map(|p| p.as_uuid())),
            actor_name: Set(actor.name.clone()),
            kind: Set(event.kind().to_owned()),
            data: Set(data),
        });
        rows.timer_changes.add(ticket, actor.kind, event, now);
        if notify::is_notifiable(event, actor.kind) {
            rows.outbox.push(outbox_event::ActiveModel { id: Set(id), ticket_id: Set(ticket), created_at: Set(now) });
        }
    }
    Ok(rows)
}

/// Appends timeline entries, in order, with their outbox events.
async fn append<C: ConnectionTrait>(
    db: &C,
    ticket: Uuid,
    actor: &Actor,
    events: &[TimelineEvent],
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    timeline_rows(ticket, actor, events, now)?.insert(db).await
}

/// Checks that `assignee` may work tickets: an active staff member.
async fn check_assignee<C: ConnectionTrait>(db: &C, assignee: PersonId, field: &str) -> Result<String, StoreError> {
    match people::find(db, assignee).await? {
        Some(p) if p.is_staff() && p.active => Ok(p.name),
        Some(p) if !p.is_staff() => Err(DomainError::invalid(field, "must be a staff member").into()),
        Some(_) => Err(DomainError::invalid(field, "is deactivated").into()),
        None => Err(DomainError::invalid(field, format!("no person {assignee}")).into()),
    }
}

impl Store {
    /// Opens a ticket.
    pub async fn create_ticket(&self, new: NewTicket, actor: &Actor, now: DateTime<Utc>) -> Result<Ticket, StoreError> {
        // The references are checked before the write transaction, on a read connection:
        // on SQLite writes are serialised, so every statement kept out of them is
        // throughput. The foreign keys still guard existence at insert time; only a
        // concurrent deactivation can slip between the check and the insert, which is
        // the same as it happening a moment later.
        let db = self.conn();
        self.check_org_ref(new.org_id).await?;
        if let Some(requester) = new.requester_id {
            match people::find(db, requester).await? {
                Some(p) if p.is_staff() || p.org_id == Some(new.org_id) => {}
                Some(_) => {
                    return Err(DomainError::invalid(
                        "requester_id",
                        "must be a member of the ticket's organisation or staff",
                    )
                    .into());
                }
                None => return Err(DomainError::invalid("requester_id", format!("no person {requester}")).into()),
            }
        }
        let assignee_name = match new.assignee_id {
            Some(a) => Some(check_assignee(db, a, "assignee_id").await?),
            None => None,
        };

        let request = CreateRequest { new, actor: actor.clone(), now, assignee_name };
        self.ticket_writer().create(request).await
    }

    /// Reads one ticket.
    pub async fn ticket(&self, id: TicketId) -> Result<Ticket, StoreError> {
        let model = ticket::Entity::find_by_id(id.as_uuid())
            .one(self.conn())
            .await?
            .ok_or_else(|| StoreError::not_found("ticket", id))?;
        load_one(self.conn(), model).await
    }

    /// Changes a ticket's title, description or severity.
    pub async fn update_ticket(
        &self,
        id: TicketId,
        patch: TicketPatch,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<Ticket, StoreError> {
        let tx = self.write().await?;
        let current = lock_ticket(&*tx, id).await?;
        let mut events = Vec::new();
        if let Some(title) = &patch.title
            && *title != current.title
        {
            events.push(TimelineEvent::TitleChanged { from: current.title.clone(), to: title.clone() });
        }
        if let Some(description) = &patch.description
            && *description != current.description
        {
            events.push(TimelineEvent::DescriptionChanged);
        }
        let old_severity: Severity = current.severity.parse().map_err(|e| StoreError::corrupt("tickets", e))?;
        if let Some(severity) = patch.severity
            && severity != old_severity
        {
            events.push(TimelineEvent::SeverityChanged { from: old_severity, to: severity });
        }
        if events.is_empty() {
            // Nothing actually changes: no write, no timeline noise.
            return load_one(&*tx, current).await;
        }
        let mut model = current.into_active_model();
        if let Some(title) = patch.title {
            model.title = Set(title);
        }
        if let Some(description) = patch.description {
            model.description = Set(description);
        }
        if let Some(severity) = patch.severity {
            model.severity = Set(severity.as_str().to_owned());
        }
        model.updated_at = Set(now);
        let model = model.update(&*tx).await?;
        append(&*tx, id.as_uuid(), actor, &events, now).await?;
        if events.iter().any(|e| matches!(e, TimelineEvent::TitleChanged { .. })) {
            crate::lark::groups::on_retitled(&*tx, id, model.number, &model.title, now).await?;
        }
        let ticket = load_one(&*tx, model).await?;
        tx.commit().await?;
        Ok(ticket)
    }

    /// Assigns a ticket (or unassigns it with `None`).
    pub async fn assign_ticket(
        &self,
        id: TicketId,
        assignee: Option<PersonId>,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<Ticket, StoreError> {
        let tx = self.write().await?;
        let current = lock_ticket(&*tx, id).await?;
        let from = current.assignee_id.map(PersonId::from_uuid);
        if from == assignee {
            return load_one(&*tx, current).await;
        }
        let to_name = match assignee {
            Some(a) => Some(check_assignee(&*tx, a, "assignee_id").await?),
            None => None,
        };
        let mut model = current.into_active_model();
        model.assignee_id = Set(assignee.map(|a| a.as_uuid()));
        model.updated_at = Set(now);
        let model = model.update(&*tx).await?;
        append(&*tx, id.as_uuid(), actor, &[TimelineEvent::Assigned { from, to: assignee, to_name }], now).await?;
        crate::lark::groups::on_assigned(&*tx, id, assignee, now).await?;
        let ticket = load_one(&*tx, model).await?;
        tx.commit().await?;
        Ok(ticket)
    }

    /// Moves a ticket along its status machine.
    pub async fn transition_ticket(
        &self,
        id: TicketId,
        to: TicketStatus,
        reason: Option<String>,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<Ticket, StoreError> {
        let tx = self.write().await?;
        let current = lock_ticket(&*tx, id).await?;
        let from: TicketStatus = current.status.parse().map_err(|e| StoreError::corrupt("tickets", e))?;
        check_transition(from, to)?;
        let mut model = current.into_active_model();
        model.status = Set(to.as_str().to_owned());
        model.updated_at = Set(now);
        match to {
            TicketStatus::Resolved => model.resolved_at = Set(Some(now)),
            TicketStatus::Closed => model.closed_at = Set(Some(now)),
            TicketStatus::Open => {
                // A reopen: the earlier resolution no longer holds.
                model.resolved_at = Set(None);
                model.closed_at = Set(None);
            }
            TicketStatus::InProgress | TicketStatus::WaitingOnCustomer => {}
        }
        let model = model.update(&*tx).await?;
        if to == TicketStatus::Closed {
            // A closed ticket's group keeps its history but lets nobody new in.
            crate::invites::revoke_ticket_invites(&*tx, id, now).await?;
        }
        append(&*tx, id.as_uuid(), actor, &[TimelineEvent::StatusChanged { from, to, reason }], now).await?;
        crate::lark::groups::on_status_changed(&*tx, id, from, to, now).await?;
        let ticket = load_one(&*tx, model).await?;
        tx.commit().await?;
        Ok(ticket)
    }

    /// Adds a comment.
    pub async fn add_comment(
        &self,
        id: TicketId,
        new: NewComment,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<Comment, StoreError> {
        let tx = self.write().await?;
        let current = lock_ticket(&*tx, id).await?;
        // Said before (the same Lark message handled again after a crash): the comment and
        // its timeline entry are there already. The ticket lock serialises the check.
        if let Some(key) = &new.source_key
            && let Some(seen) =
                comment::Entity::find().filter(comment::Column::SourceKey.eq(key.as_str())).one(&*tx).await?
        {
            return comment_to_domain(seen);
        }
        let comment_id = Uuid::now_v7();
        let model = comment::Entity::insert(comment::ActiveModel {
            id: Set(comment_id),
            ticket_id: Set(id.as_uuid()),
            author_id: Set(actor.person_id.map(|p| p.as_uuid())),
            author_name: Set(actor.name.clone()),
            body: Set(new.body),
            visibility: Set(new.visibility.as_str().to_owned()),
            created_at: Set(now),
            source_key: Set(new.source_key.clone()),
        })
        .exec_with_returning(&*tx)
        .await?;
        let mut ticket = current.into_active_model();
        ticket.updated_at = Set(now);
        ticket.update(&*tx).await?;
        let event = TimelineEvent::Commented {
            comment_id: CommentId::from_uuid(comment_id),
            visibility: new.visibility,
            in_group: new.in_group,
        };
        append(&*tx, id.as_uuid(), actor, &[event], now).await?;
        tx.commit().await?;
        comment_to_domain(model)
    }

    /// Lists a ticket's comments, oldest first.
    pub async fn list_comments(&self, id: TicketId, page: &PageRequest) -> Result<Page<Comment>, StoreError> {
        let scope = Self::comments_scope(id);
        self.ticket_exists(id).await?;
        let query = comment::Entity::find().filter(comment::Column::TicketId.eq(id.as_uuid()));
        let rows = oldest_first(query, comment::Column::Id, page).all(self.conn()).await?;
        Page::by_id(rows, page, &scope, |m| m.id, comment_to_domain)
    }

    /// The cursor scope of a ticket's timeline (cursors are per ticket).
    pub fn timeline_scope(id: TicketId) -> String {
        format!("timeline:{id}")
    }

    /// The cursor scope of a ticket's comments.
    pub fn comments_scope(id: TicketId) -> String {
        format!("comments:{id}")
    }

    /// Reads a ticket's timeline, oldest first.
    pub async fn timeline(&self, id: TicketId, page: &PageRequest) -> Result<Page<TimelineEntry>, StoreError> {
        let scope = Self::timeline_scope(id);
        self.ticket_exists(id).await?;
        let query = timeline_entry::Entity::find().filter(timeline_entry::Column::TicketId.eq(id.as_uuid()));
        let rows = oldest_first(query, timeline_entry::Column::Id, page).all(self.conn()).await?;
        Page::by_id(rows, page, &scope, |m| m.id, entry_to_domain)
    }

    async fn ticket_exists(&self, id: TicketId) -> Result<(), StoreError> {
        let found = ticket::Entity::find_by_id(id.as_uuid())
            .select_only()
            .column(ticket::Column::Id)
            .into_tuple::<Uuid>()
            .one(self.conn())
            .await?;
        found.map(|_| ()).ok_or_else(|| StoreError::not_found("ticket", id))
    }

    /// The cursor scope of a ticket list in `order`.
    pub fn tickets_scope(order: TicketOrder) -> &'static str {
        order.scope()
    }

    /// Lists tickets.
    pub async fn list_tickets(
        &self,
        filter: &TicketFilter,
        order: TicketOrder,
        page: &PageRequest,
    ) -> Result<Page<Ticket>, StoreError> {
        let mut query = ticket::Entity::find();
        if let Some(org) = filter.org_id {
            query = query.filter(ticket::Column::OrgId.eq(org.as_uuid()));
        }
        if !filter.statuses.is_empty() {
            query = query.filter(ticket::Column::Status.is_in(filter.statuses.iter().map(|s| s.as_str())));
        }
        if !filter.severities.is_empty() {
            query = query.filter(ticket::Column::Severity.is_in(filter.severities.iter().map(|s| s.as_str())));
        }
        match filter.assignee {
            Some(Some(a)) => query = query.filter(ticket::Column::AssigneeId.eq(a.as_uuid())),
            Some(None) => query = query.filter(ticket::Column::AssigneeId.is_null()),
            None => {}
        }
        if let Some(r) = filter.requester_id {
            query = query.filter(ticket::Column::RequesterId.eq(r.as_uuid()));
        }
        if let Some(since) = filter.updated_since {
            query = query.filter(ticket::Column::UpdatedAt.gte(since));
        }
        if let Some(q) = filter.q.as_deref() {
            query = query.filter(lower((ticket::Entity, ticket::Column::Title)).like(contains_pattern(q)));
        }
        if let Some(e) = filter.emergency {
            query = query.filter(ticket::Column::Emergency.eq(e));
        }
        if let Some(after) = &page.after {
            query = match order {
                TicketOrder::Newest => query.filter(ticket::Column::Id.lt(after.id)),
                TicketOrder::Oldest => query.filter(ticket::Column::Id.gt(after.id)),
                TicketOrder::Updated => {
                    let at = after.at.ok_or_else(|| StoreError::corrupt("cursor", "updated cursor without time"))?;
                    query.filter(Condition::any().add(ticket::Column::UpdatedAt.gt(at)).add(
                        Condition::all().add(ticket::Column::UpdatedAt.eq(at)).add(ticket::Column::Id.gt(after.id)),
                    ))
                }
            };
        }
        query = match order {
            TicketOrder::Newest => query.order_by(ticket::Column::Id, Order::Desc),
            TicketOrder::Oldest => query.order_by(ticket::Column::Id, Order::Asc),
            TicketOrder::Updated => {
                query.order_by(ticket::Column::UpdatedAt, Order::Asc).order_by(ticket::Column::Id, Order::Asc)
            }
        };
        let rows = query.limit(page.limit + 1).all(self.conn()).await?;
        let scope = order.scope();
        let page = Page::from_rows(rows, page.limit, |m| Cursor {
            scope: scope.into(),
            id: m.id,
            at: (order == TicketOrder::Updated).then_some(m.updated_at),
        });
        let items = with_refs(self.conn(), page.items).await?;
        Ok(Page { items, next_cursor: page.next_cursor })
    }
}

fn comment_to_domain(m: comment::Model) -> Result<Comment, StoreError> {
    Ok(Comment {
        id: CommentId::from_uuid(m.id),
        ticket_id: TicketId::from_uuid(m.ticket_id),
        author_id: m.author_id.map(PersonId::from_uuid),
        author_name: m.author_name,
        body: m.body,
        visibility: m.visibility.parse().map_err(|e| StoreError::corrupt("comments", e))?,
        created_at: m.created_at,
    })
}

fn entry_to_domain(m: timeline_entry::Model) -> Result<TimelineEntry, StoreError> {
    let event = event_of(&m)?;
    let kind = ActorKind::parse(&m.actor_kind)
        .ok_or_else(|| StoreError::corrupt("timeline_entries", format!("actor kind {}", m.actor_kind)))?;
    Ok(TimelineEntry {
        id: TimelineEntryId::from_uuid(m.id),
        ticket_id: TicketId::from_uuid(m.ticket_id),
        at: m.at,
        actor: Actor { kind, person_id: m.actor_id.map(PersonId::from_uuid), name: m.actor_name },
        event,
    })
}
