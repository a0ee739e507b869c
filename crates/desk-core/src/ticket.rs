//! Tickets, their severity and their status machine.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::org::{LARK_ID_MAX, NAME_MAX};
use crate::{CommentId, DomainError, Emergency, OrgId, PersonId, TicketId, Validation};

/// How bad it is. Ordering is meaningful: `P1` is the most urgent, so `P1 < P2`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Severity {
    /// Critical: production down or data at risk.
    P1,
    /// High: major function impaired.
    P2,
    /// Normal.
    P3,
    /// Low: questions, cosmetic issues.
    P4,
}

impl Severity {
    /// Every severity, most urgent first.
    pub const ALL: [Self; 4] = [Self::P1, Self::P2, Self::P3, Self::P4];

    /// Stable name for the API and the database.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::P1 => "P1",
            Self::P2 => "P2",
            Self::P3 => "P3",
            Self::P4 => "P4",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Severity {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|x| x.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| DomainError::invalid("severity", "must be one of P1, P2, P3, P4"))
    }
}

/// Where a ticket is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TicketStatus {
    /// New, nobody working on it yet.
    Open,
    /// Someone is working on it.
    InProgress,
    /// The next move is the customer's.
    WaitingOnCustomer,
    /// A fix or answer was given; the customer may still reopen.
    Resolved,
    /// Done. Only a reopen brings it back.
    Closed,
}

impl TicketStatus {
    /// Every status, in life order.
    pub const ALL: [Self; 5] = [Self::Open, Self::InProgress, Self::WaitingOnCustomer, Self::Resolved, Self::Closed];

    /// Stable name for the API and the database.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::InProgress => "in_progress",
            Self::WaitingOnCustomer => "waiting_on_customer",
            Self::Resolved => "resolved",
            Self::Closed => "closed",
        }
    }

    /// The statuses a ticket may move to from this one. Reopening (resolved or closed
    /// back to open) is the only way backwards.
    pub const fn allowed_next(self) -> &'static [Self] {
        match self {
            Self::Open => &[Self::InProgress, Self::WaitingOnCustomer],
            Self::InProgress => &[Self::WaitingOnCustomer, Self::Resolved],
            Self::WaitingOnCustomer => &[Self::InProgress, Self::Resolved],
            Self::Resolved => &[Self::Closed, Self::Open],
            Self::Closed => &[Self::Open],
        }
    }

    /// Whether the ticket still needs work (not resolved or closed).
    pub const fn is_active(self) -> bool {
        matches!(self, Self::Open | Self::InProgress | Self::WaitingOnCustomer)
    }
}

impl fmt::Display for TicketStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for TicketStatus {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL.into_iter().find(|x| x.as_str() == s).ok_or_else(|| {
            DomainError::invalid("status", "must be one of open, in_progress, waiting_on_customer, resolved, closed")
        })
    }
}

/// Checks a status move; the error lists where the ticket may go instead.
pub fn check_transition(from: TicketStatus, to: TicketStatus) -> Result<(), DomainError> {
    if from.allowed_next().contains(&to) {
        Ok(())
    } else {
        Err(DomainError::ForbiddenTransition { from, to, allowed: from.allowed_next().to_vec() })
    }
}

/// A link from a ticket to the same ticket in an external ticketing system.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExternalRef {
    /// The system (a registered source name, e.g. `zendesk`).
    pub system: String,
    /// The ticket's id there.
    pub external_id: String,
    /// A link to it there, if known.
    pub url: Option<String>,
}

/// A ticket as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ticket {
    /// Its id.
    pub id: TicketId,
    /// The human-facing number (`#42`), unique in this desk.
    pub number: i64,
    /// The customer organisation it belongs to.
    pub org_id: OrgId,
    /// Who asked.
    pub requester_id: Option<PersonId>,
    /// One line.
    pub title: String,
    /// The details.
    pub description: String,
    /// How bad.
    pub severity: Severity,
    /// Where it is.
    pub status: TicketStatus,
    /// Who works it.
    pub assignee_id: Option<PersonId>,
    /// 0 = not escalated; each escalation adds one (see `ESCALATION_LEVELS`).
    pub escalation_level: i32,
    /// When the level was last raised (merged repeats do not move it).
    pub escalated_at: Option<DateTime<Utc>>,
    /// The emergency declared on it, if any.
    pub emergency: Option<Emergency>,
    /// Links to external ticketing systems.
    pub external_refs: Vec<ExternalRef>,
    /// When opened.
    pub created_at: DateTime<Utc>,
    /// When last changed.
    pub updated_at: DateTime<Utc>,
    /// When last resolved (cleared on reopen).
    pub resolved_at: Option<DateTime<Utc>>,
    /// When closed (cleared on reopen).
    pub closed_at: Option<DateTime<Utc>>,
}

/// Longest description, in characters.
pub const DESCRIPTION_MAX: usize = 20_000;
/// Longest comment, in characters.
pub const COMMENT_MAX: usize = 20_000;
/// Most external references on one ticket.
pub const EXTERNAL_REFS_MAX: usize = 10;

/// Raw fields of a new ticket.
#[derive(Debug, Clone, Copy)]
pub struct NewTicketInput<'a> {
    /// Org.
    pub org_id: OrgId,
    /// Requester.
    pub requester_id: Option<PersonId>,
    /// Title.
    pub title: &'a str,
    /// Description.
    pub description: Option<&'a str>,
    /// Severity name; P3 when absent.
    pub severity: Option<&'a str>,
    /// Assignee at creation.
    pub assignee_id: Option<PersonId>,
}

/// A checked request to open a ticket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewTicket {
    /// Org.
    pub org_id: OrgId,
    /// Requester (must belong to the org, or be staff; checked by the store).
    pub requester_id: Option<PersonId>,
    /// Title.
    pub title: String,
    /// Description.
    pub description: String,
    /// Severity.
    pub severity: Severity,
    /// Assignee (must be active staff; checked by the store).
    pub assignee_id: Option<PersonId>,
    /// External references.
    pub external_refs: Vec<ExternalRef>,
}

impl NewTicket {
    /// Checks raw input. `refs` are `(system, external_id, url)`.
    pub fn parse(input: NewTicketInput<'_>, refs: &[(&str, &str, Option<&str>)]) -> Result<Self, DomainError> {
        let mut v = Validation::new();
        let title = v.required_line("title", input.title, NAME_MAX);
        let description = v.body("description", input.description.unwrap_or(""), DESCRIPTION_MAX);
        let severity =
            v.choice::<Severity>("severity", input.severity, "must be one of P1, P2, P3, P4").unwrap_or(Severity::P3);
        if refs.len() > EXTERNAL_REFS_MAX {
            v.fail("external_refs", format!("must hold at most {EXTERNAL_REFS_MAX} references"));
        }
        let mut external_refs = Vec::with_capacity(refs.len());
        for (i, (system, external_id, url)) in refs.iter().enumerate() {
            let system = v.required_line(&format!("external_refs[{i}].system"), system, 64);
            let external_id = v.required_line(&format!("external_refs[{i}].external_id"), external_id, LARK_ID_MAX);
            let url = v.optional_line(&format!("external_refs[{i}].url"), *url, 2048);
            if let Some(u) = &url
                && !(u.starts_with("https://") || u.starts_with("http://"))
            {
                v.fail(format!("external_refs[{i}].url"), "must be an http(s) URL");
            }
            if external_refs.iter().any(|r: &ExternalRef| r.system == system) {
                v.fail(format!("external_refs[{i}].system"), "appears twice; a ticket has one reference per system");
            }
            external_refs.push(ExternalRef { system, external_id, url });
        }
        v.finish(Self {
            org_id: input.org_id,
            requester_id: input.requester_id,
            title,
            description,
            severity,
            assignee_id: input.assignee_id,
            external_refs,
        })
    }
}

/// A checked partial update of a ticket's own fields.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TicketPatch {
    /// New title.
    pub title: Option<String>,
    /// New description.
    pub description: Option<String>,
    /// New severity.
    pub severity: Option<Severity>,
}

impl TicketPatch {
    /// Checks raw input.
    pub fn parse(title: Option<&str>, description: Option<&str>, severity: Option<&str>) -> Result<Self, DomainError> {
        let mut v = Validation::new();
        let title = title.map(|t| v.required_line("title", t, NAME_MAX));
        let description = description.map(|d| v.body("description", d, DESCRIPTION_MAX));
        let severity = v.choice::<Severity>("severity", severity, "must be one of P1, P2, P3, P4");
        let patch = Self { title, description, severity };
        if patch == Self::default() {
            v.fail("", "name at least one of title, description, severity");
        }
        v.finish(patch)
    }
}

/// Who may read a comment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CommentVisibility {
    /// The customer sees it (and later issues post it to the ticket group).
    Public,
    /// Staff only: an internal note.
    Internal,
}

impl CommentVisibility {
    /// Stable name for the API and the database.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Public => "public",
            Self::Internal => "internal",
        }
    }
}

impl FromStr for CommentVisibility {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "public" => Ok(Self::Public),
            "internal" => Ok(Self::Internal),
            _ => Err(DomainError::invalid("visibility", "must be public or internal")),
        }
    }
}

/// A comment on a ticket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Comment {
    /// Its id.
    pub id: CommentId,
    /// The ticket.
    pub ticket_id: TicketId,
    /// Who wrote it, when it was a person.
    pub author_id: Option<PersonId>,
    /// The author's display name at the time.
    pub author_name: String,
    /// The text.
    pub body: String,
    /// Public or internal.
    pub visibility: CommentVisibility,
    /// When written.
    pub created_at: DateTime<Utc>,
}

/// A checked new comment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewComment {
    /// The text.
    pub body: String,
    /// Public or internal.
    pub visibility: CommentVisibility,
    /// Written in the ticket's Lark group (so the group is not told of it again).
    pub in_group: bool,
    /// The id of what said it elsewhere (a Lark message): the same key again adds nothing.
    pub source_key: Option<String>,
}

impl NewComment {
    /// Checks raw input; visibility defaults to public.
    pub fn parse(body: &str, visibility: Option<&str>) -> Result<Self, DomainError> {
        let mut v = Validation::new();
        if body.trim().is_empty() {
            v.fail("body", "must not be empty");
        }
        let body = v.body("body", body.trim(), COMMENT_MAX);
        let visibility = v
            .choice::<CommentVisibility>("visibility", visibility, "must be public or internal")
            .unwrap_or(CommentVisibility::Public);
        v.finish(Self { body, visibility, in_group: false, source_key: None })
    }

    /// The same comment, said in the ticket's Lark group.
    pub fn in_group(self) -> Self {
        Self { in_group: true, ..self }
    }

    /// The same comment, keyed by what said it elsewhere.
    pub fn keyed(self, key: impl Into<String>) -> Self {
        Self { source_key: Some(key.into()), ..self }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use TicketStatus::*;
    use rstest::rstest;

    #[rstest]
    #[case(Open, InProgress)]
    #[case(Open, WaitingOnCustomer)]
    #[case(InProgress, WaitingOnCustomer)]
    #[case(InProgress, Resolved)]
    #[case(WaitingOnCustomer, InProgress)]
    #[case(WaitingOnCustomer, Resolved)]
    #[case(Resolved, Closed)]
    #[case::reopen_resolved(Resolved, Open)]
    #[case::reopen_closed(Closed, Open)]
    fn allowed_moves(#[case] from: TicketStatus, #[case] to: TicketStatus) {
        assert_eq!(check_transition(from, to), Ok(()));
    }

    #[rstest]
    #[case(Open, Resolved)]
    #[case(Open, Closed)]
    #[case(Open, Open)]
    #[case(InProgress, Open)]
    #[case(InProgress, Closed)]
    #[case(WaitingOnCustomer, Closed)]
    #[case(Resolved, InProgress)]
    #[case(Closed, Resolved)]
    #[case(Closed, InProgress)]
    fn forbidden_moves_say_what_is_allowed(#[case] from: TicketStatus, #[case] to: TicketStatus) {
        let Err(DomainError::ForbiddenTransition { allowed, .. }) = check_transition(from, to) else {
            panic!("{from} -> {to} should be refused");
        };
        assert!(!allowed.contains(&to));
        assert!(!allowed.is_empty());
    }

    #[test]
    fn severity_orders_most_urgent_first_and_parses_any_case() {
        assert!(Severity::P1 < Severity::P4);
        assert_eq!("p2".parse::<Severity>().unwrap(), Severity::P2);
        assert!("P5".parse::<Severity>().is_err());
    }

    #[test]
    fn ticket_input_collects_every_problem() {
        let input = NewTicketInput {
            org_id: OrgId::from_uuid(uuid::Uuid::nil()),
            requester_id: None,
            title: "",
            description: None,
            severity: Some("urgent"),
            assignee_id: None,
        };
        let refs = [("jira", "J-1", Some("ftp://x")), ("jira", "J-2", None)];
        let DomainError::Invalid(errors) = NewTicket::parse(input, &refs).unwrap_err() else { panic!() };
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["title", "severity", "external_refs[0].url", "external_refs[1].system"]);
    }
}
