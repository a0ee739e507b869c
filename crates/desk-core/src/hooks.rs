//! Ticketing systems in: registered sources, the native delivery format as a checked
//! command, and the two rules that make deliveries safe to repeat and to reorder.
//!
//! - A delivery older (or newer) than [`SIGNATURE_TOLERANCE_SECS`] is a replay and is
//!   refused before anything else is looked at ([`check_timestamp`]).
//! - A delivery carries the source's version or updated time of the ticket; one that is
//!   not newer than what was applied already never moves the ticket's own fields
//!   ([`SourceVersion::supersedes`]). Comments are facts, not state: they are added
//!   whatever their order, once per external comment id.
//! - The source's status may be anywhere on our status machine; it is reached through the
//!   machine's own moves ([`status_path`]), so the timeline says how it got there.

use std::collections::VecDeque;
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::org::{LARK_ID_MAX, NAME_MAX};
use crate::ticket::{COMMENT_MAX, DESCRIPTION_MAX};
use crate::{Actor, ActorKind, CommentVisibility, DomainError, OrgId, PersonId, Severity, TicketStatus, Validation};

/// How far a delivery's signed timestamp may be from our clock, either way: five minutes,
/// as Standard Webhooks recommends.
pub const SIGNATURE_TOLERANCE_SECS: i64 = 300;

/// Most secrets a source holds at once: the current one and the next (rotation).
pub const SECRETS_MAX: usize = 2;

/// Longest source name (it is also the `system` of the tickets' external references).
pub const SOURCE_NAME_MAX: usize = 64;

/// The name prefix of the timeline actor a source's hooks act as.
pub const ACTOR_PREFIX: &str = "hook:";

/// Who changes a ticket on a source's behalf: Larkdesk itself, syncing, named
/// `hook:<source>` (comments carry their own author instead).
pub fn source_actor(source: &str) -> Actor {
    Actor { kind: ActorKind::System, person_id: None, name: format!("{ACTOR_PREFIX}{source}") }
}

/// The source a stored actor (`kind`, `name`) stands for, if it is a source's.
pub fn source_of_actor<'a>(kind: &str, name: &'a str) -> Option<&'a str> {
    (kind == ActorKind::System.as_str()).then(|| name.strip_prefix(ACTOR_PREFIX)).flatten()
}

/// How a source signs its deliveries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HookStyle {
    /// Standard Webhooks: `webhook-id`, `webhook-timestamp`,
    /// `webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">`, secret `whsec_<base64>`.
    StandardWebhooks,
    /// GitHub's `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the body>`; the delivery id
    /// is the body's `id` (or `X-GitHub-Delivery`), the timestamp the body's `timestamp`.
    Github,
}

impl HookStyle {
    /// Every style.
    pub const ALL: [Self; 2] = [Self::StandardWebhooks, Self::Github];

    /// Stable name for the API and the database.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::StandardWebhooks => "standard_webhooks",
            Self::Github => "github",
        }
    }
}

impl fmt::Display for HookStyle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for HookStyle {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|x| x.as_str() == s)
            .ok_or_else(|| DomainError::invalid("style", "must be standard_webhooks or github"))
    }
}

/// One of a source's secrets, as the API shows it (never the secret itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretInfo {
    /// Its id, to remove it once a rotation is done.
    pub id: uuid::Uuid,
    /// Enough of it to tell it apart (`whsec_Mf…`).
    pub hint: String,
    /// When added.
    pub created_at: DateTime<Utc>,
}

/// A registered ticketing system.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HookSource {
    /// Slug, in the URL (`/api/v1/hooks/ticketing/{name}`) and as the external references' `system`.
    pub name: String,
    /// For people.
    pub display_name: String,
    /// How it signs.
    pub style: HookStyle,
    /// Where its tickets belong when a delivery names no organisation.
    pub default_org_id: Option<OrgId>,
    /// Whether deliveries are accepted.
    pub enabled: bool,
    /// Its secrets, oldest first (one or two).
    pub secrets: Vec<SecretInfo>,
    /// Registered.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
}

/// Checks a source name: lower-case letters, digits, `-` and `_`, starting with a letter
/// or digit.
fn source_name(v: &mut Validation, field: &str, name: &str) -> String {
    let name = name.trim();
    let ok = !name.is_empty()
        && name.len() <= SOURCE_NAME_MAX
        && name.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    if !ok {
        v.fail(field, format!("must be 1–{SOURCE_NAME_MAX} characters of a-z, 0-9, - and _ (like zendesk)"));
    }
    name.to_owned()
}

/// A checked request to register a source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewHookSource {
    /// Slug.
    pub name: String,
    /// For people (the name when absent).
    pub display_name: String,
    /// How it signs (Standard Webhooks when absent).
    pub style: HookStyle,
    /// Default organisation.
    pub default_org_id: Option<OrgId>,
}

impl NewHookSource {
    /// Checks raw input.
    pub fn parse(
        name: &str,
        display_name: Option<&str>,
        style: Option<&str>,
        default_org_id: Option<OrgId>,
    ) -> Result<Self, DomainError> {
        let mut v = Validation::new();
        let name = source_name(&mut v, "name", name);
        let display_name = v.optional_line("display_name", display_name, NAME_MAX).unwrap_or_else(|| name.clone());
        let style = v
            .choice::<HookStyle>("style", style, "must be standard_webhooks or github")
            .unwrap_or(HookStyle::StandardWebhooks);
        v.finish(Self { name, display_name, style, default_org_id })
    }
}

/// A checked change to a source.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HookSourcePatch {
    /// New display name.
    pub display_name: Option<String>,
    /// New style.
    pub style: Option<HookStyle>,
    /// New default organisation (`Some(None)` clears it).
    pub default_org_id: Option<Option<OrgId>>,
    /// Accept deliveries or not.
    pub enabled: Option<bool>,
}

impl HookSourcePatch {
    /// Checks raw input.
    pub fn parse(
        display_name: Option<&str>,
        style: Option<&str>,
        default_org_id: Option<Option<OrgId>>,
        enabled: Option<bool>,
    ) -> Result<Self, DomainError> {
        let mut v = Validation::new();
        let display_name = display_name.map(|d| v.required_line("display_name", d, NAME_MAX));
        let style = v.choice::<HookStyle>("style", style, "must be standard_webhooks or github");
        let patch = Self { display_name, style, default_org_id, enabled };
        if patch == Self::default() {
            v.fail("", "name at least one of display_name, style, default_org_id, enabled");
        }
        v.finish(patch)
    }
}

/// Why a delivery's timestamp is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Staleness {
    /// Older than the tolerance: a replay, or a sender retrying with an old signature.
    TooOld,
    /// Further ahead than the tolerance: a clock far off, or a forged time.
    TooNew,
}

/// Checks a signed timestamp (Unix seconds) against `now`.
pub fn check_timestamp(signed_at: i64, now: DateTime<Utc>) -> Result<(), Staleness> {
    let skew = now.timestamp().saturating_sub(signed_at);
    if skew > SIGNATURE_TOLERANCE_SECS {
        Err(Staleness::TooOld)
    } else if skew < -SIGNATURE_TOLERANCE_SECS {
        Err(Staleness::TooNew)
    } else {
        Ok(())
    }
}

// ---- the native delivery -----------------------------------------------------------

/// What a delivery says happened in the source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum HookEventKind {
    /// `ticket.created`.
    Created,
    /// `ticket.updated`: status, severity, assignee, title, description.
    Updated,
    /// `ticket.commented`.
    Commented,
    /// `ticket.resolved`.
    Resolved,
    /// `ticket.reopened`.
    Reopened,
}

impl HookEventKind {
    /// Every kind.
    pub const ALL: [Self; 5] = [Self::Created, Self::Updated, Self::Commented, Self::Resolved, Self::Reopened];

    /// The `type` of the delivery.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Created => "ticket.created",
            Self::Updated => "ticket.updated",
            Self::Commented => "ticket.commented",
            Self::Resolved => "ticket.resolved",
            Self::Reopened => "ticket.reopened",
        }
    }
}

impl FromStr for HookEventKind {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL.into_iter().find(|k| k.as_str() == s).ok_or_else(|| {
            DomainError::invalid(
                "type",
                "must be one of ticket.created, ticket.updated, ticket.commented, ticket.resolved, ticket.reopened",
            )
        })
    }
}

/// A person named by a delivery: by desk id, or by e-mail (matched case-insensitively).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PersonRef {
    /// A desk person id.
    Id(PersonId),
    /// An e-mail address.
    Email(String),
}

/// The raw form of a [`PersonRef`].
#[derive(Debug, Clone, Copy, Default)]
pub struct PersonRefInput<'a> {
    /// A desk person id.
    pub person_id: Option<PersonId>,
    /// An e-mail address.
    pub email: Option<&'a str>,
}

/// Who wrote a comment in the source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthorKind {
    /// Someone of the customer (what reminds the assignee).
    Customer,
    /// The vendor's staff.
    Staff,
}

impl FromStr for AuthorKind {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "customer" => Ok(Self::Customer),
            "staff" => Ok(Self::Staff),
            _ => Err(DomainError::invalid("kind", "must be customer or staff")),
        }
    }
}

/// A comment made in the source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HookComment {
    /// Its id there: a comment is added once per id.
    pub external_id: String,
    /// The text (cut at 20,000 characters).
    pub body: String,
    /// Public or an internal note.
    pub visibility: CommentVisibility,
    /// Customer or staff.
    pub author_kind: AuthorKind,
    /// The author's name there.
    pub author_name: Option<String>,
    /// The author as a desk person, when they are one.
    pub author: Option<PersonRef>,
}

/// The raw form of a [`HookComment`].
#[derive(Debug, Clone, Copy, Default)]
pub struct HookCommentInput<'a> {
    /// Its id in the source.
    pub external_id: &'a str,
    /// The text.
    pub body: &'a str,
    /// `public` (default) or `internal`.
    pub visibility: Option<&'a str>,
    /// `customer` (default) or `staff`.
    pub author_kind: Option<&'a str>,
    /// The author's name.
    pub author_name: Option<&'a str>,
    /// The author as a desk person.
    pub author: Option<PersonRefInput<'a>>,
}

/// Where the source says a ticket is in its own history: a version number, an updated
/// time, or both. Deliveries are ordered by it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SourceVersion {
    /// A number the source raises with every change.
    pub version: Option<i64>,
    /// When the source last changed the ticket.
    pub updated_at: Option<DateTime<Utc>>,
}

impl SourceVersion {
    /// Whether a delivery at `self` may change a ticket last changed by a delivery at
    /// `applied`. Versions, when both have one, decide strictly (an equal version is the
    /// same state again); otherwise updated times decide, an equal time counting as newer
    /// (sources with second-precision times change tickets twice a second, and applying
    /// the same state twice changes nothing). Without anything to compare, deliveries
    /// apply in the order they arrive.
    pub fn supersedes(&self, applied: &Self) -> bool {
        match (self.version, applied.version) {
            (Some(new), Some(old)) => new > old,
            _ => match (self.updated_at, applied.updated_at) {
                (Some(new), Some(old)) => new >= old,
                _ => true,
            },
        }
    }

    /// What is stored after a delivery at `self` was applied on top of `applied`.
    pub fn merge(&self, applied: &Self) -> Self {
        Self { version: self.version.max(applied.version), updated_at: self.updated_at.max(applied.updated_at) }
    }
}

/// A checked delivery of the native format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TicketHook {
    /// What happened.
    pub kind: HookEventKind,
    /// The ticket's id in the source.
    pub external_id: String,
    /// A link to it there.
    pub url: Option<String>,
    /// Its organisation (the source's default when absent).
    pub org_id: Option<OrgId>,
    /// Title (whitespace folded, cut at 200 characters).
    pub title: Option<String>,
    /// Description (cut at 20,000 characters).
    pub description: Option<String>,
    /// Severity.
    pub severity: Option<Severity>,
    /// Status the source has it in.
    pub status: Option<TicketStatus>,
    /// Assignee: `Some(None)` unassigns.
    pub assignee: Option<Option<PersonRef>>,
    /// Requester.
    pub requester: Option<PersonRef>,
    /// Where the source is in the ticket's history.
    pub version: SourceVersion,
    /// A comment made there.
    pub comment: Option<HookComment>,
}

/// The raw fields of a delivery, as the native JSON has them.
#[derive(Debug, Clone, Copy, Default)]
pub struct TicketHookInput<'a> {
    /// `type`.
    pub kind: &'a str,
    /// `data.ticket.external_id`.
    pub external_id: &'a str,
    /// `data.ticket.url`.
    pub url: Option<&'a str>,
    /// `data.ticket.org_id`.
    pub org_id: Option<OrgId>,
    /// `data.ticket.title`.
    pub title: Option<&'a str>,
    /// `data.ticket.description`.
    pub description: Option<&'a str>,
    /// `data.ticket.severity`.
    pub severity: Option<&'a str>,
    /// `data.ticket.status`.
    pub status: Option<&'a str>,
    /// `data.ticket.assignee` (`Some(None)`: explicitly null).
    pub assignee: Option<Option<PersonRefInput<'a>>>,
    /// `data.ticket.requester`.
    pub requester: Option<PersonRefInput<'a>>,
    /// `data.ticket.version`.
    pub version: Option<i64>,
    /// `data.ticket.updated_at`.
    pub updated_at: Option<DateTime<Utc>>,
    /// `data.comment`.
    pub comment: Option<HookCommentInput<'a>>,
}

const TICKET: &str = "data.ticket";

/// A severity by our names (`P1`–`P4`) or the usual priority words of ticketing systems.
pub fn parse_severity(s: &str) -> Option<Severity> {
    let s = s.trim().to_ascii_lowercase();
    match s.as_str() {
        "p1" | "urgent" | "critical" | "highest" | "blocker" => Some(Severity::P1),
        "p2" | "high" | "major" => Some(Severity::P2),
        "p3" | "normal" | "medium" => Some(Severity::P3),
        "p4" | "low" | "lowest" | "minor" | "trivial" => Some(Severity::P4),
        _ => None,
    }
}

/// A status by our names or the usual words of ticketing systems (Zendesk's `new`,
/// `pending`, `hold`, `solved`).
pub fn parse_status(s: &str) -> Option<TicketStatus> {
    let s = s.trim().to_ascii_lowercase().replace(['-', ' '], "_");
    match s.as_str() {
        "open" | "new" | "reopened" => Some(TicketStatus::Open),
        "in_progress" | "hold" | "on_hold" | "working" => Some(TicketStatus::InProgress),
        "waiting_on_customer" | "pending" | "waiting" => Some(TicketStatus::WaitingOnCustomer),
        "resolved" | "solved" | "done" => Some(TicketStatus::Resolved),
        "closed" => Some(TicketStatus::Closed),
        _ => None,
    }
}

/// Folds whitespace and control characters to single spaces and cuts at `max` characters:
/// a source cannot be asked to shorten its titles, so an over-long one is cut, not refused.
fn one_line(text: &str, max: usize) -> String {
    let folded = text.split(|c: char| c.is_whitespace() || c.is_control()).filter(|w| !w.is_empty());
    cut(&folded.collect::<Vec<_>>().join(" "), max)
}

/// Cuts text at `max` characters (an ellipsis marks the cut) and drops control characters
/// other than line breaks and tabs.
fn cut(text: &str, max: usize) -> String {
    let clean: String = text.chars().filter(|c| !c.is_control() || matches!(c, '\n' | '\r' | '\t')).collect();
    crate::notify::ellipsize(&clean, max)
}

fn person_ref(v: &mut Validation, field: &str, input: PersonRefInput<'_>) -> Option<PersonRef> {
    match (input.person_id, input.email) {
        (Some(id), _) => Some(PersonRef::Id(id)),
        (None, Some(email)) => v.email(&format!("{field}.email"), Some(email)).map(PersonRef::Email),
        (None, None) => {
            v.fail(field, "name the person by person_id or email");
            None
        }
    }
}

fn http_url(v: &mut Validation, field: &str, url: Option<&str>) -> Option<String> {
    let url = v.optional_line(field, url, 2048)?;
    if !(url.starts_with("https://") || url.starts_with("http://")) {
        v.fail(field, "must be an http(s) URL");
    }
    Some(url)
}

impl TicketHook {
    /// Checks a delivery, naming every field at fault by its JSON path.
    pub fn parse(input: TicketHookInput<'_>) -> Result<Self, DomainError> {
        let mut v = Validation::new();
        let kind: Option<HookEventKind> = v.choice(
            "type",
            Some(input.kind),
            "must be one of ticket.created, ticket.updated, ticket.commented, ticket.resolved, ticket.reopened",
        );
        let external_id = v.required_line(&format!("{TICKET}.external_id"), input.external_id, LARK_ID_MAX);
        let url = http_url(&mut v, &format!("{TICKET}.url"), input.url);
        let title = input.title.map(|t| one_line(t, NAME_MAX)).filter(|t| !t.is_empty());
        if input.title.is_some() && title.is_none() {
            v.fail(format!("{TICKET}.title"), "must not be empty");
        }
        let description = input.description.map(|d| cut(d, DESCRIPTION_MAX));
        let severity = input.severity.and_then(|s| {
            let parsed = parse_severity(s);
            if parsed.is_none() {
                v.fail(format!("{TICKET}.severity"), "must be P1–P4 (or urgent, high, normal, low)");
            }
            parsed
        });
        let mut status = input.status.and_then(|s| {
            let parsed = parse_status(s);
            if parsed.is_none() {
                v.fail(
                    format!("{TICKET}.status"),
                    "must be one of open, in_progress, waiting_on_customer, resolved, closed (or new, pending, hold, solved)",
                );
            }
            parsed
        });
        let assignee = input.assignee.map(|a| a.and_then(|a| person_ref(&mut v, &format!("{TICKET}.assignee"), a)));
        let requester = input.requester.and_then(|r| person_ref(&mut v, &format!("{TICKET}.requester"), r));
        if input.version.is_some_and(|n| n < 0) {
            v.fail(format!("{TICKET}.version"), "must not be negative");
        }
        let comment = input.comment.map(|c| {
            let external_id = v.required_line("data.comment.external_id", c.external_id, LARK_ID_MAX);
            if c.body.trim().is_empty() {
                v.fail("data.comment.body", "must not be empty");
            }
            let body = cut(c.body.trim(), COMMENT_MAX);
            let visibility = v
                .choice::<CommentVisibility>("data.comment.visibility", c.visibility, "must be public or internal")
                .unwrap_or(CommentVisibility::Public);
            let author_kind = v
                .choice::<AuthorKind>("data.comment.author.kind", c.author_kind, "must be customer or staff")
                .unwrap_or(AuthorKind::Customer);
            let author_name = c.author_name.map(|n| one_line(n, NAME_MAX)).filter(|n| !n.is_empty());
            let author = c.author.and_then(|a| {
                (a.person_id.is_some() || a.email.is_some()).then(|| person_ref(&mut v, "data.comment.author", a))?
            });
            HookComment { external_id, body, visibility, author_kind, author_name, author }
        });
        match kind {
            Some(HookEventKind::Created) if title.is_none() => {
                v.fail(format!("{TICKET}.title"), "is required for ticket.created");
            }
            Some(HookEventKind::Commented) if comment.is_none() => {
                v.fail("data.comment", "is required for ticket.commented");
            }
            Some(HookEventKind::Resolved) => match status {
                None | Some(TicketStatus::Resolved) => status = Some(TicketStatus::Resolved),
                Some(_) => v.fail(format!("{TICKET}.status"), "must be resolved (or absent) for ticket.resolved"),
            },
            Some(HookEventKind::Reopened) => match status {
                None => status = Some(TicketStatus::Open),
                Some(s) if s.is_active() => {}
                Some(_) => v.fail(
                    format!("{TICKET}.status"),
                    "must be open, in_progress or waiting_on_customer (or absent) for ticket.reopened",
                ),
            },
            _ => {}
        }
        let hook = Self {
            kind: kind.unwrap_or(HookEventKind::Updated),
            external_id,
            url,
            org_id: input.org_id,
            title,
            description,
            severity,
            status,
            assignee,
            requester,
            version: SourceVersion { version: input.version, updated_at: input.updated_at },
            comment,
        };
        v.finish(hook)
    }

    /// Whether the delivery carries what opening a ticket needs besides an organisation
    /// (which may come from the source): a title.
    pub fn can_create(&self) -> bool {
        self.title.is_some()
    }

    /// Whether it changes any of the ticket's own fields (not only comments).
    pub fn has_state(&self) -> bool {
        self.title.is_some()
            || self.description.is_some()
            || self.severity.is_some()
            || self.status.is_some()
            || self.assignee.is_some()
    }
}

/// The moves that take a ticket from `from` to `to` on the status machine, shortest
/// first (empty when it is there already). The machine is strongly connected, so every
/// status is reachable; the source decides where the ticket is, the machine how it got there.
pub fn status_path(from: TicketStatus, to: TicketStatus) -> Vec<TicketStatus> {
    if from == to {
        return Vec::new();
    }
    let mut previous: Vec<(TicketStatus, TicketStatus)> = Vec::new();
    let mut queue = VecDeque::from([from]);
    let mut seen = vec![from];
    while let Some(at) = queue.pop_front() {
        for &next in at.allowed_next() {
            if seen.contains(&next) {
                continue;
            }
            seen.push(next);
            previous.push((next, at));
            if next == to {
                let mut path = vec![to];
                let mut cur = to;
                while let Some(&(_, before)) = previous.iter().find(|(s, _)| *s == cur) {
                    if before == from {
                        break;
                    }
                    path.push(before);
                    cur = before;
                }
                path.reverse();
                return path;
            }
            queue.push_back(next);
        }
    }
    Vec::new()
}

#[cfg(test)]
mod tests {
    use super::*;
    use TicketStatus::*;
    use rstest::rstest;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[rstest]
    #[case::same(Open, Open, &[])]
    #[case::one_step(Open, InProgress, &[InProgress])]
    #[case::resolve_from_open(Open, Resolved, &[InProgress, Resolved])]
    #[case::close_from_open(Open, Closed, &[InProgress, Resolved, Closed])]
    #[case::reopen(Closed, Open, &[Open])]
    #[case::back_to_work(Resolved, InProgress, &[Open, InProgress])]
    #[case::waiting_from_closed(Closed, WaitingOnCustomer, &[Open, WaitingOnCustomer])]
    fn status_paths_follow_the_machine(
        #[case] from: TicketStatus,
        #[case] to: TicketStatus,
        #[case] path: &[TicketStatus],
    ) {
        assert_eq!(status_path(from, to), path);
        let mut at = from;
        for step in status_path(from, to) {
            assert!(crate::check_transition(at, step).is_ok(), "{at} -> {step}");
            at = step;
        }
    }

    #[test]
    fn every_status_reaches_every_other() {
        for from in TicketStatus::ALL {
            for to in TicketStatus::ALL {
                assert_eq!(status_path(from, to).last().copied().unwrap_or(from), to);
            }
        }
    }

    #[rstest]
    #[case::newer_version(Some(3), None, Some(2), None, true)]
    #[case::same_version(Some(2), None, Some(2), None, false)]
    #[case::older_version(Some(1), Some("2026-11-21T10:00:00Z"), Some(2), Some("2026-11-21T09:00:00Z"), false)]
    #[case::newer_time(None, Some("2026-11-21T10:00:01Z"), None, Some("2026-11-21T10:00:00Z"), true)]
    #[case::same_time(None, Some("2026-11-21T10:00:00Z"), None, Some("2026-11-21T10:00:00Z"), true)]
    #[case::older_time(None, Some("2026-11-21T09:59:59Z"), None, Some("2026-11-21T10:00:00Z"), false)]
    #[case::nothing_to_compare(None, None, Some(5), None, true)]
    #[case::first_delivery(Some(1), None, None, None, true)]
    fn ordering(
        #[case] version: Option<i64>,
        #[case] updated: Option<&str>,
        #[case] applied_version: Option<i64>,
        #[case] applied_updated: Option<&str>,
        #[case] newer: bool,
    ) {
        let new = SourceVersion { version, updated_at: updated.map(at) };
        let applied = SourceVersion { version: applied_version, updated_at: applied_updated.map(at) };
        assert_eq!(new.supersedes(&applied), newer);
    }

    #[test]
    fn merged_versions_never_go_back() {
        let applied = SourceVersion { version: Some(5), updated_at: Some(at("2026-11-21T10:00:00Z")) };
        let late = SourceVersion { version: Some(3), updated_at: None };
        assert_eq!(late.merge(&applied), applied);
    }

    #[test]
    fn timestamps_are_fresh_for_five_minutes_either_way() {
        let now = at("2026-11-21T10:00:00Z");
        let t = now.timestamp();
        assert_eq!(check_timestamp(t - 300, now), Ok(()));
        assert_eq!(check_timestamp(t - 301, now), Err(Staleness::TooOld));
        assert_eq!(check_timestamp(t + 300, now), Ok(()));
        assert_eq!(check_timestamp(t + 301, now), Err(Staleness::TooNew));
    }

    fn created(title: Option<&str>) -> TicketHookInput<'_> {
        TicketHookInput { kind: "ticket.created", external_id: "ZD-1", title, ..TicketHookInput::default() }
    }

    #[test]
    fn a_created_delivery_needs_a_title_and_names_each_bad_field() {
        let input = TicketHookInput {
            severity: Some("sev0"),
            status: Some("limbo"),
            url: Some("ftp://x"),
            assignee: Some(Some(PersonRefInput::default())),
            ..created(None)
        };
        let DomainError::Invalid(errors) = TicketHook::parse(input).unwrap_err() else { panic!() };
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "data.ticket.url",
                "data.ticket.severity",
                "data.ticket.status",
                "data.ticket.assignee",
                "data.ticket.title"
            ]
        );
    }

    #[test]
    fn source_words_map_to_ours_and_long_titles_are_cut() {
        let long = "x".repeat(300);
        let hook = TicketHook::parse(TicketHookInput {
            severity: Some("Urgent"),
            status: Some("pending"),
            ..created(Some(&long))
        })
        .unwrap();
        assert_eq!(hook.severity, Some(Severity::P1));
        assert_eq!(hook.status, Some(WaitingOnCustomer));
        assert_eq!(hook.title.unwrap().chars().count(), NAME_MAX);
        let folded = TicketHook::parse(created(Some("  two\nlines\t here "))).unwrap();
        assert_eq!(folded.title.as_deref(), Some("two lines here"));
    }

    #[test]
    fn resolved_and_reopened_imply_their_status() {
        let resolved = TicketHook::parse(TicketHookInput { kind: "ticket.resolved", ..created(None) }).unwrap();
        assert_eq!(resolved.status, Some(Resolved));
        let reopened = TicketHook::parse(TicketHookInput { kind: "ticket.reopened", ..created(None) }).unwrap();
        assert_eq!(reopened.status, Some(Open));
        let wrong =
            TicketHook::parse(TicketHookInput { kind: "ticket.reopened", status: Some("closed"), ..created(None) });
        assert!(wrong.is_err());
    }

    #[test]
    fn a_comment_delivery_needs_its_comment() {
        let bare = TicketHook::parse(TicketHookInput { kind: "ticket.commented", ..created(None) });
        let Err(DomainError::Invalid(errors)) = bare else { panic!() };
        assert_eq!(errors[0].field, "data.comment");
        let with = TicketHook::parse(TicketHookInput {
            kind: "ticket.commented",
            comment: Some(HookCommentInput { external_id: "c1", body: " hello ", ..HookCommentInput::default() }),
            ..created(None)
        })
        .unwrap();
        let c = with.comment.as_ref().unwrap();
        assert_eq!(
            (c.body.as_str(), c.author_kind, c.visibility),
            ("hello", AuthorKind::Customer, CommentVisibility::Public)
        );
        assert!(!with.has_state());
    }

    #[test]
    fn source_names_are_slugs() {
        assert!(NewHookSource::parse("zendesk", None, None, None).is_ok());
        assert!(NewHookSource::parse("Zendesk", None, None, None).is_err());
        assert!(NewHookSource::parse("-x", None, None, None).is_err());
        assert_eq!(NewHookSource::parse("jira_sm", None, Some("github"), None).unwrap().style, HookStyle::Github);
    }
}
