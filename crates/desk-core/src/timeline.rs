//! The timeline: every change to a ticket, with who and when. Entries are append-only.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{
    CommentId, CommentVisibility, EmergencyKind, InviteId, PersonId, Severity, TicketId, TicketStatus, TimelineEntryId,
};

/// What kind of party did something.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActorKind {
    /// A staff member (through an API token bound to them, or through Lark).
    Staff,
    /// A customer member (through Lark).
    Customer,
    /// An API token not bound to a person (automation, the bootstrap token).
    Token,
    /// Larkdesk itself (timers, sync).
    System,
}

impl ActorKind {
    /// Stable name for the API and the database.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Staff => "staff",
            Self::Customer => "customer",
            Self::Token => "token",
            Self::System => "system",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Staff, Self::Customer, Self::Token, Self::System].into_iter().find(|k| k.as_str() == s)
    }
}

/// Who did something: recorded on every timeline entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// Staff, customer, token or system.
    pub kind: ActorKind,
    /// The person, when a person acted.
    pub person_id: Option<PersonId>,
    /// Display name at the time (a person's name, or `token:<name>`).
    pub name: String,
}

/// What happened. Stored as JSON (`kind` + `data`), so new kinds need no migration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "data", rename_all = "snake_case")]
pub enum TimelineEvent {
    /// The ticket was opened.
    Created {
        /// Title at creation.
        title: String,
        /// Severity at creation.
        severity: Severity,
    },
    /// The title changed.
    TitleChanged {
        /// Before.
        from: String,
        /// After.
        to: String,
    },
    /// The description changed (the text itself is on the ticket).
    DescriptionChanged,
    /// The severity changed.
    SeverityChanged {
        /// Before.
        from: Severity,
        /// After.
        to: Severity,
    },
    /// The assignee changed (`None` = unassigned).
    Assigned {
        /// Previous assignee.
        from: Option<PersonId>,
        /// New assignee.
        to: Option<PersonId>,
        /// New assignee's name, for display.
        to_name: Option<String>,
    },
    /// The status moved.
    StatusChanged {
        /// Before.
        from: TicketStatus,
        /// After.
        to: TicketStatus,
        /// Why, if the actor said.
        reason: Option<String>,
    },
    /// A comment was added.
    Commented {
        /// The comment.
        comment_id: CommentId,
        /// Public or internal.
        visibility: CommentVisibility,
        /// Said in the ticket's Lark group: everyone there saw it already.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        in_group: bool,
    },
    /// Someone asked for escalation: the level went up one, or (`merged`) the request
    /// came within the merge window of the previous raise and joined it (`from == to`).
    Escalated {
        /// The level before.
        from: i32,
        /// The level after.
        to: i32,
        /// The name of level `to` on the ladder (`senior_engineer`, …).
        level_name: String,
        /// Why.
        reason: String,
        /// Whether the request was merged into the previous raise.
        merged: bool,
    },
    /// An emergency was declared.
    EmergencyDeclared {
        /// What broke.
        kind: EmergencyKind,
        /// The declarer's words.
        text: String,
    },
    /// Staff acknowledged the emergency (the actor is who).
    EmergencyAcknowledged,
    /// Someone joined the ticket's group through an invite link (the actor is who joined).
    MemberInvited {
        /// Their name in Lark.
        name: String,
        /// How they came in: `invite` (a 24-hour link).
        via: String,
        /// The link they used.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        invite_id: Option<InviteId>,
    },
    /// Someone was added to the ticket's group, or joined it (the actor is who did it).
    MemberAdded {
        /// Their name in Lark.
        name: String,
        /// Their open_id in the group's Lark app.
        open_id: String,
        /// The desk person bound to that open_id, if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        person_id: Option<PersonId>,
        /// Where it was done: `desk` (the REST API) or `lark` (in Lark itself).
        via: MembershipVia,
    },
    /// Someone was removed from the ticket's group, or left it (the actor is who did it).
    MemberRemoved {
        /// Their name in Lark.
        name: String,
        /// Their open_id in the group's Lark app.
        open_id: String,
        /// The desk person bound to that open_id, if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        person_id: Option<PersonId>,
        /// Where it was done: `desk` (the REST API) or `lark` (in Lark itself).
        via: MembershipVia,
    },
    /// An emergency's on-call chain was paged (the actor is Larkdesk).
    Paged {
        /// Who was paged, by name.
        to: Vec<String>,
        /// Their person ids, in the same order.
        person_ids: Vec<PersonId>,
        /// The chain step (1 = the first).
        step: u32,
        /// The page's number within that step (1 = the first).
        page: u32,
        /// Why: `unacknowledged`, or `no_update` (acknowledged, then quiet past its update cadence).
        reason: crate::escalation::paging::PageReason,
    },
    /// A response target is close to being missed (the actor is Larkdesk).
    ResponseWarning {
        /// `first_response`, `update` or `resolution`.
        target: crate::targets::TargetKind,
        /// When it runs out.
        due_at: DateTime<Utc>,
    },
    /// A response target was missed (the actor is Larkdesk).
    ResponseBreached {
        /// `first_response`, `update` or `resolution`.
        target: crate::targets::TargetKind,
        /// When it ran out.
        due_at: DateTime<Utc>,
    },
}

/// Where a group membership change was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MembershipVia {
    /// Staff over the REST API (the desk called Lark).
    Desk,
    /// In Lark itself: someone joined, left, or was added or removed in the Lark client
    /// (the desk heard of it by a membership event).
    Lark,
}

impl TimelineEvent {
    /// The event's kind name, as stored in its own column for filtering.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Created { .. } => "created",
            Self::TitleChanged { .. } => "title_changed",
            Self::DescriptionChanged => "description_changed",
            Self::SeverityChanged { .. } => "severity_changed",
            Self::Assigned { .. } => "assigned",
            Self::StatusChanged { .. } => "status_changed",
            Self::Commented { .. } => "commented",
            Self::Escalated { .. } => "escalated",
            Self::EmergencyDeclared { .. } => "emergency_declared",
            Self::EmergencyAcknowledged => "emergency_acknowledged",
            Self::MemberInvited { .. } => "member_invited",
            Self::MemberAdded { .. } => "member_added",
            Self::MemberRemoved { .. } => "member_removed",
            Self::Paged { .. } => "paged",
            Self::ResponseWarning { .. } => "response_warning",
            Self::ResponseBreached { .. } => "response_breached",
        }
    }
}

/// One stored timeline entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimelineEntry {
    /// Its id (time-ordered).
    pub id: TimelineEntryId,
    /// The ticket.
    pub ticket_id: TicketId,
    /// When.
    pub at: DateTime<Utc>,
    /// Who.
    pub actor: Actor,
    /// What.
    pub event: TimelineEvent,
}
