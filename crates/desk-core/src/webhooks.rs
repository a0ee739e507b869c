//! Webhooks out: the event types a subscriber can ask for, which timeline entry becomes
//! which event, the message a subscriber receives, and the retry schedule of a delivery.
//!
//! Events are derived from the ticket timeline, so everything that changes a ticket (the
//! REST API, Lark, a ticketing system's hooks, the escalation timers) is announced the
//! same way. The message follows Standard Webhooks: `{"type", "timestamp", "data"}`.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{
    ActorKind, CommentVisibility, DomainError, OrgId, PersonId, Severity, TicketStatus, TimelineEvent, Validation,
};

/// What a subscriber can subscribe to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum EventType {
    /// A ticket was opened.
    TicketCreated,
    /// Title, description, severity, assignee or a status move other than below.
    TicketUpdated,
    /// A comment or internal note was added.
    TicketCommented,
    /// The ticket was resolved.
    TicketResolved,
    /// The ticket was closed.
    TicketClosed,
    /// A resolved or closed ticket was reopened.
    TicketReopened,
    /// The ticket went up an escalation level.
    TicketEscalated,
    /// An emergency was declared.
    EmergencyDeclared,
    /// Staff acknowledged the emergency.
    EmergencyAcknowledged,
    /// The emergency's on-call chain was paged.
    EmergencyPaged,
    /// A response target is close to being missed.
    SlaWarning,
    /// A response target was missed.
    SlaBreached,
    /// Someone joined the ticket's group through an invite link.
    MemberInvited,
    /// Someone was added to the ticket's group (or joined it).
    MemberAdded,
    /// Someone was removed from the ticket's group (or left it).
    MemberRemoved,
}

impl EventType {
    /// Every type, in the order the API lists them.
    pub const ALL: [Self; 15] = [
        Self::TicketCreated,
        Self::TicketUpdated,
        Self::TicketCommented,
        Self::TicketResolved,
        Self::TicketClosed,
        Self::TicketReopened,
        Self::TicketEscalated,
        Self::EmergencyDeclared,
        Self::EmergencyAcknowledged,
        Self::EmergencyPaged,
        Self::SlaWarning,
        Self::SlaBreached,
        Self::MemberInvited,
        Self::MemberAdded,
        Self::MemberRemoved,
    ];

    /// The stable name subscribers see in `type`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::TicketCreated => "ticket.created",
            Self::TicketUpdated => "ticket.updated",
            Self::TicketCommented => "ticket.commented",
            Self::TicketResolved => "ticket.resolved",
            Self::TicketClosed => "ticket.closed",
            Self::TicketReopened => "ticket.reopened",
            Self::TicketEscalated => "ticket.escalated",
            Self::EmergencyDeclared => "emergency.declared",
            Self::EmergencyAcknowledged => "emergency.acknowledged",
            Self::EmergencyPaged => "emergency.paged",
            Self::SlaWarning => "sla.warning",
            Self::SlaBreached => "sla.breached",
            Self::MemberInvited => "member.invited",
            Self::MemberAdded => "member.added",
            Self::MemberRemoved => "member.removed",
        }
    }

    /// What it means, for the event-type list.
    pub const fn description(self) -> &'static str {
        match self {
            Self::TicketCreated => "A ticket was opened.",
            Self::TicketUpdated => {
                "A ticket's title, description, severity, assignee or status changed (resolving, closing and reopening have their own types)."
            }
            Self::TicketCommented => "A comment or internal note was added (data.comment has it).",
            Self::TicketResolved => "A ticket was resolved.",
            Self::TicketClosed => "A ticket was closed.",
            Self::TicketReopened => "A resolved or closed ticket was reopened.",
            Self::TicketEscalated => "A ticket went up an escalation level.",
            Self::EmergencyDeclared => "An emergency was declared on a ticket.",
            Self::EmergencyAcknowledged => "Staff acknowledged a ticket's emergency.",
            Self::EmergencyPaged => "An emergency's on-call chain was paged.",
            Self::SlaWarning => "A response target (first response, update, resolution) is close to being missed.",
            Self::SlaBreached => "A response target was missed.",
            Self::MemberInvited => "Someone joined a ticket's group through an invite link.",
            Self::MemberAdded => "Someone was added to a ticket's group, or joined it.",
            Self::MemberRemoved => "Someone was removed from a ticket's group, or left it.",
        }
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for EventType {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| DomainError::invalid("event_types", format!("unknown event type {s}")))
    }
}

/// The event a timeline entry announces, if any.
pub fn event_type_of(event: &TimelineEvent) -> Option<EventType> {
    use TicketStatus::{Closed, Open, Resolved};
    Some(match event {
        TimelineEvent::Created { .. } => EventType::TicketCreated,
        TimelineEvent::TitleChanged { .. }
        | TimelineEvent::DescriptionChanged
        | TimelineEvent::SeverityChanged { .. }
        | TimelineEvent::Assigned { .. } => EventType::TicketUpdated,
        TimelineEvent::StatusChanged { to: Resolved, .. } => EventType::TicketResolved,
        TimelineEvent::StatusChanged { to: Closed, .. } => EventType::TicketClosed,
        TimelineEvent::StatusChanged { from: Resolved | Closed, to: Open, .. } => EventType::TicketReopened,
        TimelineEvent::StatusChanged { .. } => EventType::TicketUpdated,
        TimelineEvent::Commented { .. } => EventType::TicketCommented,
        // A merged request joined the previous raise: the level did not move.
        TimelineEvent::Escalated { merged: true, .. } => return None,
        TimelineEvent::Escalated { .. } => EventType::TicketEscalated,
        TimelineEvent::EmergencyDeclared { .. } => EventType::EmergencyDeclared,
        TimelineEvent::EmergencyAcknowledged => EventType::EmergencyAcknowledged,
        TimelineEvent::Paged { .. } => EventType::EmergencyPaged,
        TimelineEvent::ResponseWarning { .. } => EventType::SlaWarning,
        TimelineEvent::ResponseBreached { .. } => EventType::SlaBreached,
        TimelineEvent::MemberInvited { .. } => EventType::MemberInvited,
        TimelineEvent::MemberAdded { .. } => EventType::MemberAdded,
        TimelineEvent::MemberRemoved { .. } => EventType::MemberRemoved,
    })
}

// ---- subscriptions ----------------------------------------------------------------

/// Which events a subscription wants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventFilter {
    /// Every type, including types added later (`*`).
    All,
    /// These types.
    Only(Vec<EventType>),
}

impl EventFilter {
    /// Whether `t` passes.
    pub fn admits(&self, t: EventType) -> bool {
        match self {
            Self::All => true,
            Self::Only(types) => types.contains(&t),
        }
    }

    /// The stored and shown form: `["*"]` or the type names.
    pub fn names(&self) -> Vec<String> {
        match self {
            Self::All => vec!["*".to_owned()],
            Self::Only(types) => types.iter().map(|t| t.as_str().to_owned()).collect(),
        }
    }

    /// Parses type names (`*` for all), every bad one reported under `field`.
    fn parse(v: &mut Validation, field: &str, names: &[&str]) -> Self {
        if names.is_empty() {
            v.fail(field, "name at least one event type (or \"*\" for all)");
            return Self::Only(Vec::new());
        }
        if names.contains(&"*") {
            return Self::All;
        }
        let mut types = Vec::with_capacity(names.len());
        for (i, name) in names.iter().enumerate() {
            match name.trim().parse::<EventType>() {
                Ok(t) if !types.contains(&t) => types.push(t),
                Ok(_) => {}
                Err(_) => v.fail(
                    format!("{field}[{i}]"),
                    format!(
                        "unknown event type {name}; known: {}",
                        EventType::ALL.iter().map(|t| t.as_str()).collect::<Vec<_>>().join(", ")
                    ),
                ),
            }
        }
        types.sort();
        Self::Only(types)
    }

    /// Reads the stored form back.
    pub fn from_names(names: &[String]) -> Result<Self, DomainError> {
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        let mut v = Validation::new();
        let filter = Self::parse(&mut v, "event_types", &names);
        v.finish(filter)
    }
}

/// A subscriber URL and what it wants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    /// Its id.
    pub id: uuid::Uuid,
    /// Where deliveries are POSTed.
    pub url: String,
    /// For people.
    pub description: String,
    /// Which events.
    pub events: EventFilter,
    /// Only this organisation's tickets, when set.
    pub org_id: Option<OrgId>,
    /// Changes a ticketing source itself made through its hooks are not sent back (to
    /// the same system, which already has them).
    pub skip_source: Option<String>,
    /// Whether new events are delivered.
    pub enabled: bool,
    /// Why it was turned off by the desk (a `410 Gone` from the subscriber).
    pub disabled_reason: Option<String>,
    /// A hint of the signing secret (`whsec_…` start).
    pub secret_hint: String,
    /// Until when the previous secret still signs too (after a rotation).
    pub previous_secret_until: Option<DateTime<Utc>>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
}

impl Subscription {
    /// Whether an event of `t` on a ticket of `org`, caused by `origin` (a source's hooks,
    /// or `None`), goes to this subscriber.
    pub fn wants(&self, t: EventType, org: OrgId, origin: Option<&str>) -> bool {
        self.enabled
            && self.events.admits(t)
            && self.org_id.is_none_or(|o| o == org)
            && !(origin.is_some() && origin == self.skip_source.as_deref())
    }
}

/// Longest subscriber URL.
pub const URL_MAX: usize = 2048;

fn subscriber_url(v: &mut Validation, url: &str) -> String {
    let url = v.required_line("url", url, URL_MAX);
    let rest = url.strip_prefix("https://").or_else(|| url.strip_prefix("http://"));
    match rest {
        Some(rest) if !rest.is_empty() && !rest.starts_with('/') && !rest.contains(char::is_whitespace) => {}
        _ => v.fail("url", "must be an absolute http(s) URL like https://tickets.example.com/larkdesk"),
    }
    url
}

/// The raw fields of a subscription, as the API has them.
#[derive(Debug, Clone, Copy, Default)]
pub struct SubscriptionInput<'a> {
    /// `url`.
    pub url: Option<&'a str>,
    /// `description`.
    pub description: Option<&'a str>,
    /// `event_types`.
    pub event_types: Option<&'a [&'a str]>,
    /// `org_id` (`Some(None)`: explicitly null).
    pub org_id: Option<Option<OrgId>>,
    /// `skip_source` (`Some(None)`: explicitly null).
    pub skip_source: Option<Option<&'a str>>,
    /// `enabled`.
    pub enabled: Option<bool>,
}

/// A checked new subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSubscription {
    /// URL.
    pub url: String,
    /// Description.
    pub description: String,
    /// Events.
    pub events: EventFilter,
    /// Organisation filter.
    pub org_id: Option<OrgId>,
    /// Source whose own changes are not sent.
    pub skip_source: Option<String>,
}

impl NewSubscription {
    /// Checks raw input.
    pub fn parse(input: SubscriptionInput<'_>) -> Result<Self, DomainError> {
        let mut v = Validation::new();
        let url = subscriber_url(&mut v, input.url.unwrap_or_default());
        let description = v.optional_line("description", input.description, 200).unwrap_or_default();
        let events = EventFilter::parse(&mut v, "event_types", input.event_types.unwrap_or(&[]));
        let skip_source = input.skip_source.flatten().and_then(|s| v.optional_line("skip_source", Some(s), 64));
        v.finish(Self { url, description, events, org_id: input.org_id.flatten(), skip_source })
    }
}

/// A checked change to a subscription.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SubscriptionPatch {
    /// New URL.
    pub url: Option<String>,
    /// New description.
    pub description: Option<String>,
    /// New events.
    pub events: Option<EventFilter>,
    /// New organisation filter.
    pub org_id: Option<Option<OrgId>>,
    /// New skipped source.
    pub skip_source: Option<Option<String>>,
    /// Turn on (also after the desk turned it off) or off.
    pub enabled: Option<bool>,
}

impl SubscriptionPatch {
    /// Checks raw input.
    pub fn parse(input: SubscriptionInput<'_>) -> Result<Self, DomainError> {
        let mut v = Validation::new();
        let url = input.url.map(|u| subscriber_url(&mut v, u));
        let description = input.description.map(|d| v.optional_line("description", Some(d), 200).unwrap_or_default());
        let events = input.event_types.map(|t| EventFilter::parse(&mut v, "event_types", t));
        let skip_source = input.skip_source.map(|s| s.and_then(|s| v.optional_line("skip_source", Some(s), 64)));
        let patch = Self { url, description, events, org_id: input.org_id, skip_source, enabled: input.enabled };
        if patch == Self::default() {
            v.fail("", "name at least one of url, description, event_types, org_id, skip_source, enabled");
        }
        v.finish(patch)
    }
}

// ---- the message ------------------------------------------------------------------

/// Who made the change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageActor {
    /// `staff`, `customer`, `token` or `system`.
    pub kind: ActorKind,
    /// The person, when a person acted.
    pub person_id: Option<PersonId>,
    /// Their name at the time (`hook:<source>` for a ticketing system's own changes).
    pub name: String,
}

/// A ticket's link to an external system.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageExternalRef {
    /// The system (a source name).
    pub system: String,
    /// The ticket's id there.
    pub external_id: String,
    /// A link to it there.
    pub url: Option<String>,
}

/// The ticket as it stood when the event was dispatched (at or just after the change).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TicketSnapshot {
    /// Id.
    pub id: uuid::Uuid,
    /// Human-facing number.
    pub number: i64,
    /// Organisation.
    pub org_id: OrgId,
    /// Title.
    pub title: String,
    /// Description.
    pub description: String,
    /// Severity.
    pub severity: Severity,
    /// Status.
    pub status: TicketStatus,
    /// Assignee.
    pub assignee_id: Option<PersonId>,
    /// Requester.
    pub requester_id: Option<PersonId>,
    /// Escalation level (0 = not escalated).
    pub escalation_level: i32,
    /// Whether an emergency is declared.
    pub emergency: bool,
    /// Links to external systems.
    pub external_refs: Vec<MessageExternalRef>,
    /// Opened.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
}

/// A comment, on `ticket.commented`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageComment {
    /// Id.
    pub id: uuid::Uuid,
    /// The text.
    pub body: String,
    /// `public` or `internal`.
    pub visibility: CommentVisibility,
    /// Author's name.
    pub author_name: String,
    /// Author, when a person.
    pub author_id: Option<PersonId>,
}

/// What `data` holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageData {
    /// The timeline entry this event is (time-ordered; the same across retries and
    /// subscribers).
    pub event_id: uuid::Uuid,
    /// When the change happened.
    pub occurred_at: DateTime<Utc>,
    /// Who made it.
    pub actor: MessageActor,
    /// The ticketing source whose hook made the change, if one did.
    pub origin: Option<String>,
    /// What changed, exactly as the ticket's timeline records it (`kind`, `data`).
    pub change: TimelineEvent,
    /// The ticket.
    pub ticket: TicketSnapshot,
    /// The comment, on `ticket.commented`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<MessageComment>,
}

/// A webhook message (Standard Webhooks' recommended shape).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    /// The event type (`ticket.created`, …).
    #[serde(rename = "type")]
    pub event_type: String,
    /// When the message was made.
    pub timestamp: DateTime<Utc>,
    /// The event.
    pub data: MessageData,
}

// ---- deliveries ---------------------------------------------------------------------

/// How long a delivery is retried before it is given up.
pub const DELIVERY_WINDOW: Duration = Duration::from_secs(24 * 3600);

/// The waits after failed attempts 1, 2, …: quick at first, then hours; the last one
/// repeats until the day is over (Standard Webhooks' and Svix's schedule, compressed).
const RETRY_WAITS_SECS: [u64; 10] = [5, 30, 120, 600, 1800, 3600, 7200, 14_400, 21_600, 28_800];

/// The wait after failed attempt number `attempt` (1-based).
pub fn retry_wait(attempt: u32) -> Duration {
    let i = usize::try_from(attempt.max(1) - 1).unwrap_or(usize::MAX).min(RETRY_WAITS_SECS.len() - 1);
    Duration::from_secs(RETRY_WAITS_SECS[i])
}

/// The longest `Retry-After` a subscriber can ask for.
pub const RETRY_AFTER_MAX: Duration = Duration::from_secs(3600);

/// When to try a delivery made at `created_at` again after failed attempt `attempt` at
/// `now`, or `None` when its day is over. `retry_after` (a subscriber's `Retry-After`,
/// capped at an hour) stretches the wait; `jitter` (a fraction in 0..1 from the caller's
/// random source) spreads retries by up to a tenth of the wait. The last attempt is made
/// at the end of the day rather than skipped.
pub fn next_attempt(
    created_at: DateTime<Utc>,
    attempt: u32,
    now: DateTime<Utc>,
    retry_after: Option<Duration>,
    jitter: f64,
) -> Option<DateTime<Utc>> {
    let deadline = created_at + chrono::Duration::from_std(DELIVERY_WINDOW).unwrap_or(chrono::Duration::MAX);
    if now >= deadline {
        return None;
    }
    let wait = retry_wait(attempt).max(retry_after.unwrap_or_default().min(RETRY_AFTER_MAX));
    let spread = wait.mul_f64(jitter.clamp(0.0, 1.0) / 10.0);
    let at = now + chrono::Duration::from_std(wait + spread).unwrap_or(chrono::Duration::MAX);
    Some(at.min(deadline))
}

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryState {
    /// Waiting for its (next) attempt, or being attempted.
    Pending,
    /// The subscriber answered 2xx.
    Delivered,
    /// Given up: its day passed, or the subscriber answered `410 Gone`.
    Failed,
}

impl DeliveryState {
    /// Every state.
    pub const ALL: [Self; 3] = [Self::Pending, Self::Delivered, Self::Failed];

    /// Stable name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Delivered => "delivered",
            Self::Failed => "failed",
        }
    }

    /// Parses the stable name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|x| x.as_str() == s)
    }
}

/// One event on its way to one subscriber: what the REST API shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// Its id: the `webhook-id` header, the same on every attempt.
    pub id: uuid::Uuid,
    /// The subscription.
    pub subscription_id: uuid::Uuid,
    /// The timeline entry announced.
    pub event_id: uuid::Uuid,
    /// Its type.
    pub event_type: String,
    /// The ticket (deliveries of one ticket go to one subscriber in order).
    pub ticket_id: Option<uuid::Uuid>,
    /// Where it stands.
    pub state: DeliveryState,
    /// Attempts made (or under way).
    pub attempts: u32,
    /// The subscriber's last HTTP status.
    pub last_status: Option<u16>,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    /// When it was last attempted.
    pub last_attempt_at: Option<DateTime<Utc>>,
    /// When the next attempt is due (pending only).
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// When the subscriber took it.
    pub delivered_at: Option<DateTime<Utc>>,
    /// When it was made.
    pub created_at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn names_round_trip() {
        for t in EventType::ALL {
            assert_eq!(t.as_str().parse::<EventType>().unwrap(), t);
        }
    }

    #[test]
    fn status_moves_have_their_own_types() {
        let moved = |from, to| event_type_of(&TimelineEvent::StatusChanged { from, to, reason: None });
        assert_eq!(moved(TicketStatus::InProgress, TicketStatus::Resolved), Some(EventType::TicketResolved));
        assert_eq!(moved(TicketStatus::Resolved, TicketStatus::Closed), Some(EventType::TicketClosed));
        assert_eq!(moved(TicketStatus::Closed, TicketStatus::Open), Some(EventType::TicketReopened));
        assert_eq!(moved(TicketStatus::Open, TicketStatus::InProgress), Some(EventType::TicketUpdated));
    }

    #[test]
    fn retries_last_a_day_and_end_on_its_last_second() {
        let t0 = at("2026-11-21T09:00:00Z");
        assert_eq!(next_attempt(t0, 1, t0, None, 0.0), Some(at("2026-11-21T09:00:05Z")));
        assert_eq!(next_attempt(t0, 3, t0, None, 0.0), Some(at("2026-11-21T09:02:00Z")));
        assert_eq!(next_attempt(t0, 1, t0, Some(Duration::from_secs(90)), 0.0), Some(at("2026-11-21T09:01:30Z")));
        let late = at("2026-11-22T05:00:00Z");
        assert_eq!(next_attempt(t0, 10, late, None, 0.0), Some(at("2026-11-22T09:00:00Z")), "capped at the deadline");
        assert_eq!(next_attempt(t0, 11, at("2026-11-22T09:00:00Z"), None, 0.0), None);
        let jittered = next_attempt(t0, 4, t0, None, 0.99).unwrap();
        assert!(jittered > at("2026-11-21T09:10:00Z") && jittered <= at("2026-11-21T09:11:00Z"));
    }

    #[test]
    fn the_schedule_spans_the_day_in_about_a_dozen_attempts() {
        let t0 = at("2026-11-21T09:00:00Z");
        let (mut now, mut attempts) = (t0, 1);
        while let Some(next) = next_attempt(t0, attempts, now, None, 0.0) {
            now = next;
            attempts += 1;
        }
        assert_eq!(now, t0 + chrono::Duration::hours(24));
        assert!((10..=14).contains(&attempts), "{attempts}");
    }

    #[test]
    fn filters_and_skipped_sources() {
        let input = SubscriptionInput {
            url: Some("https://tickets.example.com/in"),
            event_types: Some(&["ticket.created", "sla.breached", "ticket.created"]),
            skip_source: Some(Some("zendesk")),
            ..SubscriptionInput::default()
        };
        let new = NewSubscription::parse(input).unwrap();
        assert_eq!(new.events.names(), ["ticket.created", "sla.breached"]);
        let sub = Subscription {
            id: uuid::Uuid::nil(),
            url: new.url,
            description: String::new(),
            events: new.events,
            org_id: None,
            skip_source: new.skip_source,
            enabled: true,
            disabled_reason: None,
            secret_hint: String::new(),
            previous_secret_until: None,
            created_at: at("2026-11-21T09:00:00Z"),
            updated_at: at("2026-11-21T09:00:00Z"),
        };
        let org = OrgId::from_uuid(uuid::Uuid::nil());
        assert!(sub.wants(EventType::TicketCreated, org, None));
        assert!(sub.wants(EventType::TicketCreated, org, Some("jira")));
        assert!(!sub.wants(EventType::TicketCreated, org, Some("zendesk")));
        assert!(!sub.wants(EventType::TicketUpdated, org, None));
    }

    #[test]
    fn bad_subscriptions_name_their_fields() {
        let input = SubscriptionInput {
            url: Some("ftp://x"),
            event_types: Some(&["ticket.created", "ticket.exploded"]),
            ..SubscriptionInput::default()
        };
        let DomainError::Invalid(errors) = NewSubscription::parse(input).unwrap_err() else { panic!() };
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["url", "event_types[1]"]);
        assert!(NewSubscription::parse(SubscriptionInput { url: Some("https://x.y/"), ..Default::default() }).is_err());
    }
}
