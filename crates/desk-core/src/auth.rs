//! Staff roles and what each may do. API tokens carry a role; the HTTP layer asks
//! `Role::may` before calling a use case.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::DomainError;

/// A staff role. Customers do not hold API tokens; they act through Lark.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Runs the desk: tokens, integrations, everything a TAM can do.
    Admin,
    /// Technical Account Manager: owns customer organisations and their people.
    Tam,
    /// Works tickets.
    Engineer,
}

impl Role {
    /// Every role, for listings and error messages.
    pub const ALL: [Self; 3] = [Self::Admin, Self::Tam, Self::Engineer];

    /// The stable name used in the API and the database.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Admin => "admin",
            Self::Tam => "tam",
            Self::Engineer => "engineer",
        }
    }

    /// Whether this role may perform `action`.
    pub const fn may(self, action: Action) -> bool {
        use Action::*;
        match action {
            ManageTokens | ManageIntegrations => matches!(self, Self::Admin),
            ReadIntegrations => matches!(self, Self::Admin | Self::Tam),
            WriteOrg | WritePerson | AssignTicket => matches!(self, Self::Admin | Self::Tam),
            ReadOrg | ReadPerson | CreateTicket | ReadTicket | UpdateTicket | TakeTicket | TransitionTicket
            | CommentTicket | EscalateTicket | DeclareEmergency | AcknowledgeEmergency | InviteMembers
            | ManageMembers => true,
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| DomainError::invalid("role", "must be one of admin, tam, engineer"))
    }
}

/// Something an API caller can attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// Create, list and revoke API tokens.
    ManageTokens,
    /// Register and change Lark integrations (their secrets).
    ManageIntegrations,
    /// See integrations (never their secrets) and check them.
    ReadIntegrations,
    /// Create or change a customer organisation.
    WriteOrg,
    /// Read organisations and their Service Desk view.
    ReadOrg,
    /// Create or change people.
    WritePerson,
    /// Read people.
    ReadPerson,
    /// Open a ticket.
    CreateTicket,
    /// Read tickets, their comments and timeline.
    ReadTicket,
    /// Change a ticket's title, description or severity.
    UpdateTicket,
    /// Assign a ticket to someone else (triage).
    AssignTicket,
    /// Assign a ticket to oneself, or unassign oneself.
    TakeTicket,
    /// Move a ticket along its status machine.
    TransitionTicket,
    /// Comment on a ticket.
    CommentTicket,
    /// Raise a ticket's escalation level.
    EscalateTicket,
    /// Declare an emergency on a ticket.
    DeclareEmergency,
    /// Acknowledge a ticket's emergency.
    AcknowledgeEmergency,
    /// Create, list and revoke a group's invite links.
    InviteMembers,
    /// See who is in a group; add and remove members through Lark.
    ManageMembers,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_round_trip_through_their_names() {
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>().unwrap(), role);
        }
        assert!("root".parse::<Role>().is_err());
    }

    #[test]
    fn only_admins_manage_tokens_and_engineers_cannot_triage() {
        assert!(Role::Admin.may(Action::ManageTokens));
        assert!(!Role::Tam.may(Action::ManageTokens));
        assert!(!Role::Engineer.may(Action::AssignTicket));
        assert!(Role::Engineer.may(Action::TakeTicket));
        assert!(!Role::Engineer.may(Action::WriteOrg));
    }
}
