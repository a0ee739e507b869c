//! Notifications: who is told what (as data), priority classes, and the pure policies of
//! the notification window and the monthly Lark budget. Everything here is a function of
//! `now`; the dispatcher supplies it.

use std::fmt;
use std::time::Duration;

use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Utc};
use serde::{Deserialize, Serialize};

use crate::{ActorKind, CommentVisibility, EmergencyKind, Severity, TicketStatus, TimelineEvent};

/// A notification's priority class, most urgent first. The order matters: when the
/// budget tightens, delivery gives up the least urgent classes first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NotifyClass {
    /// An emergency page: skips the window, may spend the emergency reserve.
    Emergency,
    /// A direct @mention or a request to act (a ticket to work on, a customer's reply).
    Action,
    /// A ticket changed state.
    StateChange,
    /// A response-time target is about to be missed.
    ResponseWarning,
    /// A digest of things that waited.
    Digest,
    /// A card edit that changes how a card looks, not what anyone must do.
    Cosmetic,
}

impl NotifyClass {
    /// Every class, most urgent first.
    pub const ALL: [Self; 6] =
        [Self::Emergency, Self::Action, Self::StateChange, Self::ResponseWarning, Self::Digest, Self::Cosmetic];

    /// Stable name for the API, logs and the ledger.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Emergency => "emergency",
            Self::Action => "action",
            Self::StateChange => "state_change",
            Self::ResponseWarning => "response_warning",
            Self::Digest => "digest",
            Self::Cosmetic => "cosmetic",
        }
    }

    /// The stored rank (0 = most urgent), so that `ORDER BY class` delivers urgent work first.
    pub const fn rank(self) -> i16 {
        match self {
            Self::Emergency => 0,
            Self::Action => 1,
            Self::StateChange => 2,
            Self::ResponseWarning => 3,
            Self::Digest => 4,
            Self::Cosmetic => 5,
        }
    }

    /// The class of a stored rank.
    pub fn from_rank(rank: i16) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.rank() == rank)
    }

    /// Parses the stable name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

impl fmt::Display for NotifyClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What happened, as far as the notification rules care.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    /// A ticket was opened.
    TicketCreated,
    /// A ticket was assigned to someone.
    TicketAssigned,
    /// A ticket's status moved.
    StatusChanged,
    /// A customer commented.
    CustomerComment,
    /// Staff (or automation) commented publicly.
    StaffComment,
    /// Staff left an internal note.
    InternalComment,
    /// A ticket went up an escalation level (merged repeats are not news).
    Escalated,
    /// An emergency was declared.
    EmergencyDeclared,
    /// Staff acknowledged an emergency.
    EmergencyAcknowledged,
}

impl Trigger {
    /// Stable name, as the rules route and the logs show it.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::TicketCreated => "ticket_created",
            Self::TicketAssigned => "ticket_assigned",
            Self::StatusChanged => "status_changed",
            Self::CustomerComment => "customer_comment",
            Self::StaffComment => "staff_comment",
            Self::InternalComment => "internal_comment",
            Self::Escalated => "escalated",
            Self::EmergencyDeclared => "emergency_declared",
            Self::EmergencyAcknowledged => "emergency_acknowledged",
        }
    }
}

/// Who a rule tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Audience {
    /// The ticket's assignee.
    Assignee,
    /// The person a ticket was just assigned to.
    NewAssignee,
    /// The organisation's Technical Account Manager.
    Tam,
    /// The ticket's group chat (everyone following the ticket, one card).
    TicketGroup,
    /// The person who asked.
    Requester,
}

/// One line of the notification policy: on `trigger`, tell `audience` with `class`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Rule {
    /// What happened.
    pub trigger: Trigger,
    /// Who is told.
    pub audience: Audience,
    /// How urgently.
    pub class: NotifyClass,
}

/// Who is told what. Kept as data so that the policy reads as a table, is shown as one
/// (`GET /api/v1/notification-rules`), and changes without touching the dispatcher.
pub const RULES: &[Rule] = &[
    Rule { trigger: Trigger::TicketCreated, audience: Audience::Assignee, class: NotifyClass::Action },
    Rule { trigger: Trigger::TicketCreated, audience: Audience::Tam, class: NotifyClass::StateChange },
    Rule { trigger: Trigger::TicketAssigned, audience: Audience::NewAssignee, class: NotifyClass::Action },
    Rule { trigger: Trigger::StatusChanged, audience: Audience::TicketGroup, class: NotifyClass::StateChange },
    Rule { trigger: Trigger::CustomerComment, audience: Audience::Assignee, class: NotifyClass::Action },
    Rule { trigger: Trigger::StaffComment, audience: Audience::TicketGroup, class: NotifyClass::StateChange },
    // Internal notes never go to a group a customer can read.
    Rule { trigger: Trigger::InternalComment, audience: Audience::Assignee, class: NotifyClass::Action },
    // The next level is asked to act: whoever works the ticket, and the TAM who owns the customer.
    Rule { trigger: Trigger::Escalated, audience: Audience::Assignee, class: NotifyClass::Action },
    Rule { trigger: Trigger::Escalated, audience: Audience::Tam, class: NotifyClass::Action },
    Rule { trigger: Trigger::EmergencyDeclared, audience: Audience::Assignee, class: NotifyClass::Emergency },
    Rule { trigger: Trigger::EmergencyDeclared, audience: Audience::Tam, class: NotifyClass::Emergency },
    Rule { trigger: Trigger::EmergencyDeclared, audience: Audience::TicketGroup, class: NotifyClass::Emergency },
    Rule { trigger: Trigger::EmergencyAcknowledged, audience: Audience::TicketGroup, class: NotifyClass::StateChange },
];

/// The trigger of a timeline event done by `actor`, if any rule could care.
pub fn trigger_of(event: &TimelineEvent, actor: ActorKind) -> Option<Trigger> {
    match event {
        TimelineEvent::Created { .. } => Some(Trigger::TicketCreated),
        TimelineEvent::Assigned { to: Some(_), .. } => Some(Trigger::TicketAssigned),
        TimelineEvent::StatusChanged { .. } => Some(Trigger::StatusChanged),
        TimelineEvent::Commented { visibility: CommentVisibility::Internal, .. } => Some(Trigger::InternalComment),
        TimelineEvent::Commented { .. } if actor == ActorKind::Customer => Some(Trigger::CustomerComment),
        TimelineEvent::Commented { .. } => Some(Trigger::StaffComment),
        TimelineEvent::Escalated { merged: false, .. } => Some(Trigger::Escalated),
        TimelineEvent::EmergencyDeclared { .. } => Some(Trigger::EmergencyDeclared),
        TimelineEvent::EmergencyAcknowledged => Some(Trigger::EmergencyAcknowledged),
        // A merged escalation repeats a request the next level was just told of; the
        // timeline keeps its reason.
        TimelineEvent::Escalated { merged: true, .. }
        | TimelineEvent::Assigned { to: None, .. }
        | TimelineEvent::TitleChanged { .. }
        | TimelineEvent::DescriptionChanged
        | TimelineEvent::SeverityChanged { .. } => None,
        // A colleague joining through an invite link is on the timeline; the group saw
        // them join in Lark, so no card repeats it.
        TimelineEvent::MemberInvited { .. } => None,
        // Lark shows everyone in the group who joined or left; a card would repeat it.
        TimelineEvent::MemberAdded { .. } | TimelineEvent::MemberRemoved { .. } => None,
        // Pages, warnings and breaches are written by the escalation timers together
        // with their own notifications (to the people of the chain step, the assignee,
        // the TAM), in the same transaction.
        TimelineEvent::Paged { .. }
        | TimelineEvent::ResponseWarning { .. }
        | TimelineEvent::ResponseBreached { .. } => None,
    }
}

/// The rules that apply to `trigger`, in table order.
pub fn rules_for(trigger: Trigger) -> impl Iterator<Item = &'static Rule> {
    RULES.iter().filter(move |r| r.trigger == trigger)
}

/// Whether some rule applies to this event: only such events go to the outbox.
pub fn is_notifiable(event: &TimelineEvent, actor: ActorKind) -> bool {
    trigger_of(event, actor).is_some_and(|t| rules_for(t).next().is_some())
}

/// The ticket as a notification shows it, copied when the notification is planned so
/// that a card says what was true when it happened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TicketSummary {
    /// The ticket's id.
    pub id: String,
    /// Its number.
    pub number: i64,
    /// Title.
    pub title: String,
    /// Severity.
    pub severity: Severity,
    /// Status.
    pub status: TicketStatus,
    /// Assignee's name.
    pub assignee: Option<String>,
    /// Organisation's id.
    pub org_id: String,
}

/// What a notification says happened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Happening {
    /// A ticket was opened.
    Created,
    /// A ticket was assigned.
    Assigned {
        /// To whom.
        to: Option<String>,
    },
    /// A status moved.
    StatusChanged {
        /// Before.
        from: TicketStatus,
        /// After.
        to: TicketStatus,
        /// Why.
        reason: Option<String>,
    },
    /// A comment was written.
    Commented {
        /// The opening of the comment.
        excerpt: String,
        /// Whether it is an internal note.
        internal: bool,
    },
    /// A ticket went up an escalation level.
    Escalated {
        /// The level's name on the ladder (`senior_engineer`, `tam_lead`, …).
        level: String,
        /// Why.
        reason: String,
    },
    /// An emergency was declared.
    EmergencyDeclared {
        /// What broke (not `kind`: that names the happening).
        emergency_kind: EmergencyKind,
        /// The declarer's words (their opening, as for comments).
        text: String,
    },
    /// Staff acknowledged the emergency.
    EmergencyAcknowledged,
    /// The integration crossed a share of its monthly budget.
    BudgetAlert {
        /// The threshold crossed (50, 80, 95, 100).
        percent: u8,
        /// Calls used.
        used: u32,
        /// The budget.
        budget: u32,
        /// The delivery level now in force.
        level: PacingLevel,
    },
    /// A group the desk serves was disbanded in Lark.
    ChatDisbanded {
        /// The group's name.
        chat: String,
    },
    /// An on-call page: an emergency needs someone now.
    Paged {
        /// What broke.
        emergency_kind: EmergencyKind,
        /// The declarer's words (their opening).
        text: String,
        /// The chain step (1 = the first).
        step: u32,
        /// The page's number within that step.
        page: u32,
        /// Why: nobody acknowledged, or no update within the cadence.
        reason: crate::escalation::paging::PageReason,
    },
    /// Where an emergency stands, as the customer's emergency card shows it.
    EmergencyStatus {
        /// What broke.
        emergency_kind: EmergencyKind,
        /// The declarer's words (their opening).
        text: String,
        /// Who took it on, once someone did.
        acknowledged_by: Option<String>,
        /// When the next update is due, on the reader's clock (`14:30 Asia/Shanghai`).
        next_update_by: Option<String>,
    },
    /// A response target is close to being missed.
    ResponseWarning {
        /// Which target.
        target: crate::targets::TargetKind,
        /// When it runs out, on the reader's clock.
        due: String,
    },
    /// A response target was missed.
    ResponseBreached {
        /// Which target.
        target: crate::targets::TargetKind,
        /// When it ran out, on the reader's clock.
        due: String,
    },
}

/// One notification's content, stored with it and rendered per reader at delivery.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotificationBody {
    /// The ticket concerned, if any.
    pub ticket: Option<TicketSummary>,
    /// What happened.
    pub happening: Happening,
    /// Who did it.
    pub actor: String,
    /// When.
    pub at: DateTime<Utc>,
}

/// The longest comment opening a card repeats.
pub const EXCERPT_MAX_CHARS: usize = 280;

/// The opening of a comment, cut at a character boundary.
pub fn excerpt(text: &str) -> String {
    ellipsize(text.trim(), EXCERPT_MAX_CHARS)
}

/// `text` cut to at most `max` characters, an ellipsis marking the cut.
pub(crate) fn ellipsize(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut cut: String = text.chars().take(max - 1).collect();
    cut.push('…');
    cut
}

// ---- recipients and deliveries -----------------------------------------------------

/// Who a notification is for: a person (a direct message) or a chat (one card for all in it).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Recipient {
    /// A person, by id.
    Person(crate::PersonId),
    /// A Lark chat, by `chat_id`.
    Chat(String),
}

impl Recipient {
    /// The stable key windows are kept under: `person:<id>` or `chat:<chat_id>`.
    pub fn key(&self) -> String {
        match self {
            Self::Person(p) => format!("person:{p}"),
            Self::Chat(c) => format!("chat:{c}"),
        }
    }

    /// Parses a key.
    pub fn parse(key: &str) -> Option<Self> {
        if let Some(p) = key.strip_prefix("person:") {
            return p.parse().ok().map(Self::Person);
        }
        key.strip_prefix("chat:").filter(|c| !c.is_empty()).map(|c| Self::Chat(c.to_owned()))
    }
}

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryState {
    /// Waiting for its (next) attempt, or being attempted under a lease.
    Ready,
    /// Lark accepted it.
    Sent,
    /// Given up after failures; an admin may retry it.
    Parked,
}

impl DeliveryState {
    /// Stable name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Ready => "ready",
            Self::Sent => "sent",
            Self::Parked => "parked",
        }
    }

    /// Parses the stable name.
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Ready, Self::Sent, Self::Parked].into_iter().find(|x| x.as_str() == s)
    }
}

/// One card on its way to (or delivered to) one recipient: what the REST API shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// Its id, also the Lark `uuid` idempotency key.
    pub id: uuid::Uuid,
    /// The integration (Lark app) it goes through.
    pub integration_id: String,
    /// Who it is for.
    pub recipient: Recipient,
    /// Its class (the most urgent of what it carries).
    pub class: NotifyClass,
    /// `card` (one ticket) or `digest` (several).
    pub kind: String,
    /// How many notifications it carries.
    pub items: u32,
    /// Where it stands.
    pub state: DeliveryState,
    /// Attempts made.
    pub attempts: u32,
    /// The last failure.
    pub last_error: Option<String>,
    /// Lark's message id once sent.
    pub message_id: Option<String>,
    /// When composed.
    pub created_at: DateTime<Utc>,
    /// When its next attempt is due (ready only).
    pub next_attempt_at: DateTime<Utc>,
    /// When Lark accepted it.
    pub sent_at: Option<DateTime<Utc>>,
}

// ---- the window ---------------------------------------------------------------------

/// When a recipient last told at `last_sent` may be told again.
pub fn window_opens_at(last_sent: DateTime<Utc>, window: Duration) -> DateTime<Utc> {
    last_sent + chrono::Duration::from_std(window).unwrap_or(chrono::Duration::MAX)
}

/// How long a recipient waits between notifications at `level`: merging harder as the
/// budget tightens means longer windows, so more lands in each digest.
pub fn effective_window(window: Duration, level: PacingLevel) -> Duration {
    match level {
        PacingLevel::Normal | PacingLevel::MergeEdits => window,
        PacingLevel::DigestsOnly | PacingLevel::EmergenciesOnly => window.saturating_mul(6),
    }
}

// ---- the monthly budget -------------------------------------------------------------

/// How delivery behaves as the month's calls approach the budget, one step at a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PacingLevel {
    /// Every class, at the normal window.
    Normal,
    /// Card edits wait and merge into the next one.
    MergeEdits,
    /// Only digests (and emergencies): the window stretches six-fold.
    DigestsOnly,
    /// Only emergencies, from the reserve; everything else queues until the budget resets.
    EmergenciesOnly,
}

impl PacingLevel {
    /// Stable name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Normal => "normal",
            Self::MergeEdits => "merge_edits",
            Self::DigestsOnly => "digests_only",
            Self::EmergenciesOnly => "emergencies_only",
        }
    }

    /// Whether a notification of `class` may be delivered at this level.
    pub fn admits(self, class: NotifyClass) -> bool {
        match self {
            Self::Normal => true,
            Self::MergeEdits | Self::DigestsOnly => class != NotifyClass::Cosmetic,
            Self::EmergenciesOnly => class == NotifyClass::Emergency,
        }
    }
}

/// The calendar month an instant falls in (UTC, as Lark resets quotas on the 1st), as `YYYY-MM`.
pub fn month_key(now: DateTime<Utc>) -> String {
    format!("{:04}-{:02}", now.year(), now.month())
}

/// The first instant of the month of `now` and of the next month.
pub fn month_bounds(now: DateTime<Utc>) -> (DateTime<Utc>, DateTime<Utc>) {
    let first = NaiveDate::from_ymd_opt(now.year(), now.month(), 1).unwrap_or(NaiveDate::MIN);
    let next = first.checked_add_months(chrono::Months::new(1)).unwrap_or(NaiveDate::MAX);
    let at = |d: NaiveDate| Utc.from_utc_datetime(&d.and_time(chrono::NaiveTime::MIN));
    (at(first), at(next))
}

/// The slice of the budget kept for emergency pages: 5 %, at least one call.
pub fn emergency_reserve(budget: u32) -> u32 {
    if budget == 0 { 0 } else { (budget / 20).max(1) }
}

/// Where a month stands: the figures the budget route shows and pacing decides from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct BudgetStatus {
    /// Billed calls spent (or in flight) this month.
    pub used: u32,
    /// The month's budget.
    pub budget: u32,
    /// Kept for emergencies.
    pub reserved: u32,
    /// What ordinary notifications may still spend.
    pub left: u32,
    /// The month's total at the pace so far.
    pub projected: u32,
    /// Delivery level in force.
    pub level: PacingLevel,
}

/// Shortest stretch of a month the pace is judged on: one busy morning on the 1st is
/// not yet a trend worth throttling for.
const PACE_MIN_ELAPSED_SECS: i64 = 24 * 3600;

/// The month's standing at `now`.
pub fn budget_status(used: u32, budget: u32, now: DateTime<Utc>) -> BudgetStatus {
    let reserved = emergency_reserve(budget);
    let ordinary = budget_limit(budget, NotifyClass::Action);
    let (start, end) = month_bounds(now);
    let total = (end - start).num_seconds().max(1);
    let elapsed = (now - start).num_seconds().clamp(PACE_MIN_ELAPSED_SECS, total);
    let projected = u32::try_from(i64::from(used) * total / elapsed).unwrap_or(u32::MAX).max(used);
    let level = if used >= ordinary {
        PacingLevel::EmergenciesOnly
    } else if share(used, budget) >= 90 || share(projected, budget) >= 150 {
        PacingLevel::DigestsOnly
    } else if share(used, budget) >= 80 || share(projected, budget) >= 100 {
        PacingLevel::MergeEdits
    } else {
        PacingLevel::Normal
    };
    BudgetStatus { used, budget, reserved, left: ordinary.saturating_sub(used), projected, level }
}

/// How many billed calls a month may spend on `class`: the whole budget for emergencies,
/// the budget less the emergency reserve for everything else.
pub fn budget_limit(budget: u32, class: NotifyClass) -> u32 {
    if class == NotifyClass::Emergency { budget } else { budget.saturating_sub(emergency_reserve(budget)) }
}

/// Whether one more billed call of `class` fits the month, given `used` so far.
pub fn budget_allows(used: u32, budget: u32, class: NotifyClass) -> bool {
    used < budget_limit(budget, class)
}

/// The shares of the budget at which the TAM is told.
pub const ALERT_THRESHOLDS: [u8; 4] = [50, 80, 95, 100];

/// `used` as a whole percentage of `budget`.
fn share(used: u32, budget: u32) -> u64 {
    if budget == 0 { 100 } else { u64::from(used) * 100 / u64::from(budget) }
}

/// The highest alert threshold `used` has reached, if it is above `announced`.
pub fn alert_due(used: u32, budget: u32, announced: u8) -> Option<u8> {
    let pct = share(used, budget);
    ALERT_THRESHOLDS.into_iter().rev().find(|t| u64::from(*t) <= pct).filter(|t| *t > announced)
}

// ---- retries ------------------------------------------------------------------------

/// Delivery attempts before a notification is parked for an admin to look at.
pub const MAX_ATTEMPTS: i32 = 8;

/// How long to wait after failed attempt number `attempt` (1-based): doubling from
/// 5 seconds, capped at 10 minutes. The dispatcher adds jitter.
pub fn retry_backoff(attempt: i32) -> Duration {
    let exp = u32::try_from(attempt.clamp(1, 16) - 1).unwrap_or(0);
    Duration::from_secs(5u64.saturating_mul(1 << exp)).min(Duration::from_secs(600))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{CommentId, PersonId};

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn classes_round_trip_and_rank_urgent_first() {
        for c in NotifyClass::ALL {
            assert_eq!(NotifyClass::from_rank(c.rank()), Some(c));
            assert_eq!(NotifyClass::parse(c.as_str()), Some(c));
        }
        assert!(NotifyClass::Emergency < NotifyClass::Cosmetic);
    }

    #[test]
    fn the_rules_say_who_is_told_what() {
        let audiences = |t| rules_for(t).map(|r| r.audience).collect::<Vec<_>>();
        assert_eq!(audiences(Trigger::TicketCreated), [Audience::Assignee, Audience::Tam]);
        assert_eq!(audiences(Trigger::TicketAssigned), [Audience::NewAssignee]);
        assert_eq!(audiences(Trigger::StatusChanged), [Audience::TicketGroup]);
        assert_eq!(audiences(Trigger::CustomerComment), [Audience::Assignee]);
        assert_eq!(audiences(Trigger::StaffComment), [Audience::TicketGroup]);
        assert_eq!(audiences(Trigger::Escalated), [Audience::Assignee, Audience::Tam]);
        assert_eq!(audiences(Trigger::EmergencyDeclared), [Audience::Assignee, Audience::Tam, Audience::TicketGroup]);
        assert_eq!(audiences(Trigger::EmergencyAcknowledged), [Audience::TicketGroup]);
        let classes = |t| rules_for(t).map(|r| r.class).collect::<Vec<_>>();
        assert_eq!(classes(Trigger::Escalated), [NotifyClass::Action; 2]);
        assert_eq!(classes(Trigger::EmergencyDeclared), [NotifyClass::Emergency; 3]);
        assert_eq!(classes(Trigger::EmergencyAcknowledged), [NotifyClass::StateChange]);
    }

    #[test]
    fn escalations_notify_once_and_merged_repeats_do_not() {
        let escalated = |merged| TimelineEvent::Escalated {
            from: 0,
            to: if merged { 0 } else { 1 },
            level_name: "senior_engineer".into(),
            reason: "waiting since Monday".into(),
            merged,
        };
        assert_eq!(trigger_of(&escalated(false), ActorKind::Customer), Some(Trigger::Escalated));
        assert!(!is_notifiable(&escalated(true), ActorKind::Customer));
        assert!(is_notifiable(&TimelineEvent::EmergencyAcknowledged, ActorKind::Staff));
    }

    #[test]
    fn trigger_names_match_their_serde_names() {
        for t in RULES.iter().map(|r| r.trigger) {
            assert_eq!(serde_json::to_value(t).unwrap(), t.as_str());
        }
    }

    #[test]
    fn internal_notes_never_reach_the_ticket_group() {
        let note = TimelineEvent::Commented {
            comment_id: CommentId::from_uuid(uuid::Uuid::nil()),
            visibility: CommentVisibility::Internal,
            in_group: false,
        };
        let trigger = trigger_of(&note, ActorKind::Staff).unwrap();
        assert!(rules_for(trigger).all(|r| r.audience != Audience::TicketGroup));
    }

    #[test]
    fn cosmetic_edits_and_unassignment_go_nowhere() {
        assert!(!is_notifiable(&TimelineEvent::DescriptionChanged, ActorKind::Staff));
        let unassigned =
            TimelineEvent::Assigned { from: Some(PersonId::from_uuid(uuid::Uuid::nil())), to: None, to_name: None };
        assert!(!is_notifiable(&unassigned, ActorKind::Staff));
    }

    #[test]
    fn months_reset_on_the_first_in_utc() {
        assert_eq!(month_key(at("2026-11-30T23:59:59Z")), "2026-11");
        let (start, end) = month_bounds(at("2026-12-15T10:00:00Z"));
        assert_eq!(start, at("2026-12-01T00:00:00Z"));
        assert_eq!(end, at("2027-01-01T00:00:00Z"));
    }

    #[test]
    fn the_reserve_is_for_emergencies_only() {
        assert_eq!(emergency_reserve(10_000), 500);
        assert_eq!(emergency_reserve(100), 5);
        assert_eq!(emergency_reserve(10), 1);
        assert!(budget_allows(94, 100, NotifyClass::Action));
        assert!(!budget_allows(95, 100, NotifyClass::Action));
        assert!(budget_allows(99, 100, NotifyClass::Emergency));
        assert!(!budget_allows(100, 100, NotifyClass::Emergency), "never call 101");
    }

    #[test]
    fn pacing_tightens_a_step_at_a_time() {
        // Mid-month, on pace for about the budget: edits merge.
        let mid = at("2026-11-16T00:00:00Z");
        assert_eq!(budget_status(1_000, 10_000, mid).level, PacingLevel::Normal);
        assert_eq!(budget_status(5_100, 10_000, mid).level, PacingLevel::MergeEdits);
        assert_eq!(budget_status(7_600, 10_000, mid).level, PacingLevel::DigestsOnly);
        assert_eq!(budget_status(9_500, 10_000, mid).level, PacingLevel::EmergenciesOnly);
        let late = at("2026-11-30T12:00:00Z");
        assert_eq!(budget_status(8_000, 10_000, late).level, PacingLevel::MergeEdits);
        assert_eq!(budget_status(9_499, 10_000, late).level, PacingLevel::DigestsOnly);
    }

    #[test]
    fn an_early_burst_is_not_extrapolated_from_minutes() {
        let first_hour = at("2026-11-01T01:00:00Z");
        let s = budget_status(200, 10_000, first_hour);
        assert_eq!(s.level, PacingLevel::Normal);
        assert_eq!(s.projected, 6_000, "judged over a day at least");
    }

    #[test]
    fn the_tam_hears_of_each_threshold_once() {
        assert_eq!(alert_due(49, 100, 0), None);
        assert_eq!(alert_due(50, 100, 0), Some(50));
        assert_eq!(alert_due(60, 100, 50), None);
        assert_eq!(alert_due(96, 100, 50), Some(95), "a jump past two thresholds says the higher");
        assert_eq!(alert_due(100, 100, 95), Some(100));
    }

    #[test]
    fn levels_admit_less_as_they_tighten() {
        assert!(PacingLevel::Normal.admits(NotifyClass::Cosmetic));
        assert!(!PacingLevel::MergeEdits.admits(NotifyClass::Cosmetic));
        assert!(PacingLevel::DigestsOnly.admits(NotifyClass::Action));
        assert!(!PacingLevel::EmergenciesOnly.admits(NotifyClass::Action));
        assert!(PacingLevel::EmergenciesOnly.admits(NotifyClass::Emergency));
        assert_eq!(effective_window(Duration::from_secs(600), PacingLevel::DigestsOnly), Duration::from_secs(3600));
    }

    #[test]
    fn backoff_doubles_and_caps() {
        assert_eq!(retry_backoff(1), Duration::from_secs(5));
        assert_eq!(retry_backoff(3), Duration::from_secs(20));
        assert_eq!(retry_backoff(30), Duration::from_secs(600));
    }

    #[test]
    fn excerpts_cut_long_comments_on_a_character() {
        assert_eq!(excerpt("  short  "), "short");
        let long = "数".repeat(400);
        let cut = excerpt(&long);
        assert_eq!(cut.chars().count(), EXCERPT_MAX_CHARS);
        assert!(cut.ends_with('…'));
    }
}
