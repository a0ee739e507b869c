//! Escalating a ticket, declaring an emergency on it, acknowledging the emergency: one
//! transaction each, with the timeline entries and their outbox events, after desk-core
//! decided what the request does. Every entry point (REST, Lark cards, chat commands)
//! calls these, so the permission check lives here too.

use chrono::{DateTime, Utc};
use desk_core::{
    AckStep, Actor, ActorKind, DomainError, ESCALATION_LEVELS, EmergencyStep, EscalationStep, NewEmergency,
    NewEscalation, Party, Severity, Ticket, TicketAct, TicketId, TicketStatus, TimelineEvent, check_party,
    decide_acknowledgement, decide_emergency, decide_escalation, level_name,
};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ConnectionTrait, IntoActiveModel};

use super::{append, load_one, lock_ticket, to_domain};
use crate::entity::ticket;
use crate::{Store, StoreError, people};

/// What an escalation request did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Escalation {
    /// The ticket afterwards.
    pub ticket: Ticket,
    /// The request came within the merge window of the previous raise: the level stayed
    /// and the reason was recorded with it.
    pub merged: bool,
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
        let (from, to, merged) = match decide_escalation(&current, ESCALATION_LEVELS, now)? {
            EscalationStep::Raise { from, to } => (from, to, false),
            EscalationStep::Merge { level } => (level, level, true),
        };
        let mut model = model.into_active_model();
        if !merged {
            model.escalation_level = Set(to);
            model.escalated_at = Set(Some(now));
        }
        model.updated_at = Set(now);
        let model = model.update(&*tx).await?;
        let event = TimelineEvent::Escalated {
            from,
            to,
            level_name: level_name(ESCALATION_LEVELS, to),
            reason: request.reason,
            merged,
        };
        append(&*tx, id.as_uuid(), actor, &[event], now).await?;
        let ticket = load_one(&*tx, model).await?;
        tx.commit().await?;
        Ok(Escalation { ticket, merged })
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
        model.emergency_text = Set(Some(declaration.text));
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
        let ticket = load_one(&*tx, model).await?;
        tx.commit().await?;
        Ok(EmergencyAcknowledgement { ticket, already: false })
    }
}
