use crate::{TicketStatus, validation::FieldError};

/// What the domain refuses, in its own terms. The HTTP mapping lives in desk-api.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    /// Input that does not satisfy the rules; each entry names the field and why.
    #[error("invalid input: {}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<FieldError>),
    /// A status change the ticket state machine does not allow from where it is.
    #[error("a ticket cannot move from {from} to {to}")]
    ForbiddenTransition {
        /// Where the ticket is.
        from: TicketStatus,
        /// Where the caller wanted it.
        to: TicketStatus,
        /// Where it may go from `from`.
        allowed: Vec<TicketStatus>,
    },
    /// The ticket is resolved or closed, so it cannot be escalated (or, when closed, put
    /// into emergency); it has to be reopened first.
    #[error("the ticket is {status}; reopen it first")]
    TicketClosed {
        /// Where the ticket is.
        status: TicketStatus,
    },
    /// The ticket is already at the top of its escalation ladder.
    #[error("the ticket is already at the top escalation level ({name})")]
    EscalationTopLevel {
        /// The level it is at.
        level: i32,
        /// That level's name.
        name: String,
    },
    /// An acknowledgement on a ticket that is not in emergency.
    #[error("the ticket is not in emergency; there is nothing to acknowledge")]
    NoEmergency,
    /// The actor may not do this to this ticket (a customer acting on another
    /// organisation's ticket, a customer acknowledging an emergency, …).
    #[error("{who} may not {what}")]
    NotPermitted {
        /// Who tried, as a kind of party (`customer`, `system`, …).
        who: &'static str,
        /// What they may not do, and why.
        what: &'static str,
    },
}

impl DomainError {
    /// A single-field validation failure.
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::Invalid(vec![FieldError::new(field, reason)])
    }
}
