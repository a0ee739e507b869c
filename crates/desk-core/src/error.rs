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
}

impl DomainError {
    /// A single-field validation failure.
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::Invalid(vec![FieldError::new(field, reason)])
    }
}
