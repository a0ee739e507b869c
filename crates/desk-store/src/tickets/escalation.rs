//! Escalating a ticket, declaring an emergency on it, acknowledging the emergency: one
//! transaction each, with the timeline entries and their outbox events, after desk-core
//! decided what the request does. Every entry point (REST, Lark cards, chat commands)
//! calls these, so the permission check lives here too.
//!
//! The ladder is the organisation's (its escalation policy). The timeline entries move
//! the response timers in the same transaction (`crate::escalation::timers`): a raise
//! shrinks what is left of each target, a declaration arms the paging, an
//! acknowledgement stops it and starts the update cadence. What the notification rules
//! do not cover is written here: the people of the new level, the emergency card in the
//! main group, and the customer's card saying who took the emergency on and when the
//! next update is due.

use chrono::{DateTime, Utc};
use desk_core::escalation::policy::{Level, Responder};
use desk_core::notify::{Happening, NotifyClass, excerpt};
use desk_core::targets::TargetKind;
use desk_core::{
    AckStep, Actor, ActorKind, DomainError, EmergencyStep, EscalationStep, NewEmergency, NewEscalation, Party,
    PersonId, Severity, Ticket, TicketAct, TicketId, TicketStatus, TimelineEvent, check_party, decide_acknowledgement,
    decide_emergency, decide_escalation, level_name,
};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter,
};

use super::{append, load_one, lock_ticket, to_domain};
use crate::entity::{org, ticket};
use crate::escalation::entity::escalation_timer;
use crate::escalation::notices::TicketNotices;
use crate::escalation::policies::{OrgPolicy, load_policy};
use crate::escalation::timers::{TimerKind, drop_queued_pages};
use crate::{Store, StoreError, people};

/// What an escalation request did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Escalation {
    /// The ticket afterwards.
    pub ticket: Ticket,
    /// The request came within the merge window of the previous raise: the level stayed
    /// and the reason was recorded with it.
    pub merged: bool,
    /// The name of the ticket's level on its organisation's ladder.
    pub level_name: String,
}

/// What an emergency declaration did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmergencyDeclaration {
    /// The ticket afterwards.
    pub ticket: Ticket,
    /// The ticket was in emergency already: nothing changed.
    pub already: bool,
}

/// What an acknowledgement did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmergencyAcknowledgement {
    /// The ticket afterwards; its emergency says who acknowledged and when.
    pub ticket: Ticket,
    /// Someone had acknowledged already (the ticket says who): nothing changed.
    pub already: bool,
}

/// Who `actor` is for permissions, from the stored person when a person acts: a person's
/// side (staff or customer) and organisation are what the database says, whatever the
/// caller put in the actor.
async fn party_of<C: ConnectionTrait>(db: &C, actor: &Actor) -> Result<Party, StoreError> {
    let Some(id) = actor.person_id else {
        return match actor.kind {
            ActorKind::Staff => Ok(Party::Staff),
            ActorKind::Token => Ok(Party::Token),
            ActorKind::System => Ok(Party::System),
            ActorKind::Customer => Err(DomainError::NotPermitted {
                who: "customer",
                what: "act on a ticket without being a known member of its organisation",
            }
            .into()),
        };
    };
    match people::find(db, id).await? {
        Some(p) if !p.active => {
            Err(DomainError::NotPermitted { who: p.kind.as_str(), what: "act while deactivated" }.into())
        }
        Some(p) if p.is_staff() => Ok(Party::Staff),
        Some(p) => {
            let org = p.org_id.ok_or_else(|| StoreError::corrupt("people", format!("customer {id} without an org")))?;
            Ok(Party::Customer(org))
        }
        None => Err(DomainError::NotPermitted { who: "unknown person", what: "act on tickets" }.into()),
    }
}

/// Locks the ticket, reads it as the domain sees it and checks that `actor` may `act`.
async fn lock_checked<C: ConnectionTrait>(
    db: &C,
    id: TicketId,
    actor: &Actor,
    act: TicketAct,
) -> Result<(ticket::Model, Ticket), StoreError> {
    let model = lock_ticket(db, id).await?;
    // The decisions need no external references; the answer loads them.
    let ticket = to_domain(model.clone(), Vec::new())?;
    check_party(party_of(db, actor).await?, ticket.org_id, act)?;
    Ok((model, ticket))
}

/// The organisation of a ticket row and its effective escalation policy.
async fn policy_of<C: ConnectionTrait>(db: &C, t: &ticket::Model) -> Result<(org::Model, OrgPolicy), StoreError> {
    let o = crate::orgs::require_org(db, desk_core::OrgId::from_uuid(t.org_id)).await?;
    let policy = load_policy(db, &o).await?;
    Ok((o, policy))
}

/// Tells the people of `level` that the ticket reached it, beyond the assignee and the TAM
/// whom the notification rules tell anyway (and never the one who asked).
async fn tell_level<C: ConnectionTrait>(
    db: &C,
    (t, o): (&ticket::Model, &org::Model),
    level: &Level,
    reason: &str,
    actor: &Actor,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let mut people: Vec<PersonId> = Vec::new();
    for r in &level.notify {
        let who = match r {
            Responder::Assignee | Responder::Tam => None,
            Responder::Person(p) => Some(*p),
            Responder::Schedule(s) => crate::escalation::schedules_on_call(db, *s, now).await?,
        };
        people.extend(who.filter(|p| {
            Some(p.as_uuid()) != t.assignee_id && Some(p.as_uuid()) != o.tam_id && Some(*p) != actor.person_id
        }));
    }
    if people.is_empty() {
        return Ok(());
    }
    let notices = TicketNotices::load(db, t.clone(), o.clone()).await?;
    let happening = Happening::Escalated { level: level.name.clone(), reason: excerpt(reason) };
    notices.to_people(db, &people, NotifyClass::Action, &actor.name, now, |_| happening.clone()).await?;
    Ok(())
}

impl Store {
    /// Raises a ticket one escalation level, or merges the request into the raise of the
    /// last ten minutes. Refused on a resolved or closed ticket and at the top level.
    pub async fn escalate_ticket(
        &self,
        id: TicketId,
        request: NewEscalation,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<Escalation, StoreError> {
        let tx = self.write().await?;
        let (model, current) = lock_checked(&*tx, id, actor, TicketAct::Escalate).await?;
        let (o, policy) = policy_of(&*tx, &model).await?;
        let names = policy.policy.level_names();
        let (from, to, merged) = match decide_escalation(&current, &names, now)? {
            EscalationStep::Raise { from, to } => (from, to, false),
            EscalationStep::Merge { level } => (level, level, true),
        };
        let name = level_name(&names, to);
        let mut model = model.into_active_model();
        if !merged {
            model.escalation_level = Set(to);
            model.escalated_at = Set(Some(now));
        }
        model.updated_at = Set(now);
        let model = model.update(&*tx).await?;
        let reason = request.reason;
        let event = TimelineEvent::Escalated { from, to, level_name: name.clone(), reason: reason.clone(), merged };
        append(&*tx, id.as_uuid(), actor, &[event], now).await?;
        if let Some(level) = usize::try_from(to).ok().and_then(|i| policy.policy.levels.get(i)).filter(|_| !merged) {
            tell_level(&*tx, (&model, &o), level, &reason, actor, now).await?;
        }
        let ticket = load_one(&*tx, model).await?;
        tx.commit().await?;
        Ok(Escalation { ticket, merged, level_name: name })
    }

    /// Declares an emergency: severity P1, the declaration recorded, a resolved ticket
    /// reopened. Refused on a closed ticket; a ticket in emergency already stays as it is.
    pub async fn declare_emergency(
        &self,
        id: TicketId,
        declaration: NewEmergency,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<EmergencyDeclaration, StoreError> {
        let tx = self.write().await?;
        let (model, current) = lock_checked(&*tx, id, actor, TicketAct::DeclareEmergency).await?;
        let (reopen, raise_from) = match decide_emergency(&current)? {
            EmergencyStep::Already => {
                let ticket = load_one(&*tx, model).await?;
                return Ok(EmergencyDeclaration { ticket, already: true });
            }
            EmergencyStep::Declare { reopen, raise_from } => (reopen, raise_from),
        };
        // The declaration first: it is what the timeline (and the cards) lead with.
        let mut events =
            vec![TimelineEvent::EmergencyDeclared { kind: declaration.kind, text: declaration.text.clone() }];
        let mut model = model.into_active_model();
        if let Some(from) = raise_from {
            events.push(TimelineEvent::SeverityChanged { from, to: Severity::P1 });
            model.severity = Set(Severity::P1.as_str().to_owned());
        }
        if reopen {
            // No reason of its own: the declaration just before it is the reason, and a
            // card shows both in the reader's language.
            events.push(TimelineEvent::StatusChanged { from: current.status, to: TicketStatus::Open, reason: None });
            model.status = Set(TicketStatus::Open.as_str().to_owned());
            model.resolved_at = Set(None);
            model.closed_at = Set(None);
        }
        model.emergency = Set(true);
        model.emergency_kind = Set(Some(declaration.kind.as_str().to_owned()));
        model.emergency_text = Set(Some(declaration.text.clone()));
        model.emergency_declared_at = Set(Some(now));
        model.emergency_declared_by = Set(actor.person_id.map(|p| p.as_uuid()));
        model.emergency_declared_by_name = Set(Some(actor.name.clone()));
        // A new emergency (on a reopened ticket) waits for its own acknowledgement.
        model.acknowledged_by = Set(None);
        model.acknowledged_by_name = Set(None);
        model.acknowledged_at = Set(None);
        model.updated_at = Set(now);
        let model = model.update(&*tx).await?;
        append(&*tx, id.as_uuid(), actor, &events, now).await?;
        // The rules put the emergency card in the ticket's group (the main group while it
        // has none); the main group sees it too.
        let (o, _) = policy_of(&*tx, &model).await?;
        let notices = TicketNotices::load(&*tx, model.clone(), o).await?;
        if notices.ticket_chat.is_some() {
            let others: Vec<String> =
                notices.emergency_chats().into_iter().filter(|c| Some(c) != notices.ticket_chat.as_ref()).collect();
            let happening =
                Happening::EmergencyDeclared { emergency_kind: declaration.kind, text: excerpt(&declaration.text) };
            notices.to_chats(&*tx, &others, NotifyClass::Emergency, &actor.name, now, &happening).await?;
        }
        let ticket = load_one(&*tx, model).await?;
        tx.commit().await?;
        Ok(EmergencyDeclaration { ticket, already: false })
    }

    /// Records that staff took the emergency on. Refused when the ticket is not in
    /// emergency; a second acknowledgement changes nothing (the ticket says who was first).
    pub async fn acknowledge_emergency(
        &self,
        id: TicketId,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<EmergencyAcknowledgement, StoreError> {
        let tx = self.write().await?;
        let (model, current) = lock_checked(&*tx, id, actor, TicketAct::Acknowledge).await?;
        if let AckStep::Already(_) = decide_acknowledgement(&current)? {
            let ticket = load_one(&*tx, model).await?;
            return Ok(EmergencyAcknowledgement { ticket, already: true });
        }
        let mut model = model.into_active_model();
        model.acknowledged_by = Set(actor.person_id.map(|p| p.as_uuid()));
        model.acknowledged_by_name = Set(Some(actor.name.clone()));
        model.acknowledged_at = Set(Some(now));
        model.updated_at = Set(now);
        let model = model.update(&*tx).await?;
        append(&*tx, id.as_uuid(), actor, &[TimelineEvent::EmergencyAcknowledged], now).await?;
        // The paging stopped with the entry; a page queued a moment ago goes too.
        drop_queued_pages(&*tx, model.id).await?;
        commit_to_customer(&*tx, &model, actor, now).await?;
        let ticket = load_one(&*tx, model).await?;
        tx.commit().await?;
        Ok(EmergencyAcknowledgement { ticket, already: false })
    }
}

/// The customer's emergency card once someone took the emergency on: who, and when the
/// next update is due on the customer's clock (the organisation's calendar), in the
/// ticket's group and the main group at once.
async fn commit_to_customer<C: ConnectionTrait>(
    db: &C,
    t: &ticket::Model,
    actor: &Actor,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let (o, policy) = policy_of(db, t).await?;
    let update = escalation_timer::Entity::find()
        .filter(escalation_timer::Column::TicketId.eq(t.id))
        .filter(escalation_timer::Column::Kind.eq(TimerKind::Target(TargetKind::Update).as_str()))
        .one(db)
        .await?;
    let due = update.and_then(|u| u.due_at);
    let (Some(kind), Some(text)) = (t.emergency_kind.as_deref(), t.emergency_text.as_deref()) else { return Ok(()) };
    let emergency_kind = kind.parse().map_err(|e| StoreError::corrupt("tickets", e))?;
    let status = |zone: &str| Happening::EmergencyStatus {
        emergency_kind,
        text: excerpt(text),
        acknowledged_by: Some(actor.name.clone()),
        next_update_by: due.map(|due| desk_core::calendar::local_time(due, zone, now)),
    };
    let notices = TicketNotices::load(db, t.clone(), o).await?;
    let chats = notices.emergency_chats();
    if chats.is_empty() {
        // No group at all: the customer who asked hears it directly, on their own clock.
        let requester: Vec<PersonId> = t.requester_id.map(PersonId::from_uuid).into_iter().collect();
        notices.to_people(db, &requester, NotifyClass::Emergency, &actor.name, now, |p| status(&p.time_zone)).await?;
        return Ok(());
    }
    let happening = status(policy.calendar.time_zone.name());
    notices.to_chats(db, &chats, NotifyClass::Emergency, &actor.name, now, &happening).await
}
