//! Escalations and emergencies: the ladder a ticket climbs, what an emergency records,
//! who may raise either, and the pure decisions the store applies (functions of the
//! ticket as it is and of `now`).

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use crate::{DomainError, OrgId, PersonId, Severity, Ticket, TicketStatus, Validation};

pub mod paging;
pub mod policy;
pub mod simulate;

/// The default escalation ladder, lowest first: level `n` is `ESCALATION_LEVELS[n]`.
/// Names are stable keys (cards translate them). Kept as data so that a ladder per
/// organisation or support plan is a different slice, not different code.
pub const ESCALATION_LEVELS: &[&str] = &["engineer", "senior_engineer", "tam_lead"];

/// A repeated escalation within this long of the previous raise is merged into it:
/// the level stays and the new reason is recorded, so a double click (or two people
/// asking at once) does not skip a level.
pub const ESCALATION_MERGE_WINDOW: TimeDelta = TimeDelta::minutes(10);

/// Longest escalation reason, in characters.
pub const ESCALATION_REASON_MAX: usize = 500;
/// Longest description of what broke in an emergency, in characters.
pub const EMERGENCY_TEXT_MAX: usize = 2_000;

/// The name of `level` on `levels`; a level beyond the ladder (a ladder shortened after
/// the ticket climbed it) reads as `level_<n>`.
pub fn level_name(levels: &[&str], level: i32) -> String {
    usize::try_from(level)
        .ok()
        .and_then(|i| levels.get(i))
        .map_or_else(|| format!("level_{level}"), |name| (*name).to_owned())
}

/// The highest level of `levels` (0 for a one-step ladder).
fn top_level(levels: &[&str]) -> i32 {
    i32::try_from(levels.len().saturating_sub(1)).unwrap_or(i32::MAX)
}

/// What broke, as the emergency response cares about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EmergencyKind {
    /// Data is gone.
    DataLoss,
    /// Data is wrong or damaged.
    DataCorruption,
    /// The service cannot be used.
    ServiceUnavailable,
}

impl EmergencyKind {
    /// Every kind.
    pub const ALL: [Self; 3] = [Self::DataLoss, Self::DataCorruption, Self::ServiceUnavailable];

    /// Stable name for the API and the database.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::DataLoss => "data_loss",
            Self::DataCorruption => "data_corruption",
            Self::ServiceUnavailable => "service_unavailable",
        }
    }
}

impl fmt::Display for EmergencyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for EmergencyKind {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL.into_iter().find(|k| k.as_str() == s).ok_or_else(|| DomainError::invalid("kind", KIND_REASON))
    }
}

const KIND_REASON: &str = "must be one of data_loss, data_corruption, service_unavailable";

/// Who acknowledged an emergency, and when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Acknowledged {
    /// The person, when a person acknowledged (an unbound API token has none).
    pub by: Option<PersonId>,
    /// Their name at the time.
    pub by_name: String,
    /// When.
    pub at: DateTime<Utc>,
}

/// An emergency declared on a ticket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Emergency {
    /// What broke.
    pub kind: EmergencyKind,
    /// The declarer's words.
    pub text: String,
    /// When declared.
    pub declared_at: DateTime<Utc>,
    /// Who declared it, when a person did.
    pub declared_by: Option<PersonId>,
    /// Their name at the time.
    pub declared_by_name: String,
    /// Set once staff took it on.
    pub acknowledged: Option<Acknowledged>,
}

/// A checked escalation request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEscalation {
    /// Why: one line, required.
    pub reason: String,
}

impl NewEscalation {
    /// Checks raw input.
    pub fn parse(reason: &str) -> Result<Self, DomainError> {
        let mut v = Validation::new();
        let reason = v.required_line("reason", reason, ESCALATION_REASON_MAX);
        v.finish(Self { reason })
    }
}

/// A checked emergency declaration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEmergency {
    /// What broke.
    pub kind: EmergencyKind,
    /// What the declarer says, required.
    pub text: String,
}

impl NewEmergency {
    /// Checks raw input: `kind` by its stable name, `text` non-empty (newlines allowed).
    pub fn parse(kind: &str, text: &str) -> Result<Self, DomainError> {
        let mut v = Validation::new();
        let kind = v.choice::<EmergencyKind>("kind", Some(kind.trim()), KIND_REASON);
        let text = Self::check_text(&mut v, text);
        v.finish(Self { kind: kind.unwrap_or(EmergencyKind::ServiceUnavailable), text })
    }

    /// Checks the text of a declaration whose kind is already known (a chat command, a
    /// card form).
    pub fn new(kind: EmergencyKind, text: &str) -> Result<Self, DomainError> {
        let mut v = Validation::new();
        let text = Self::check_text(&mut v, text);
        v.finish(Self { kind, text })
    }

    fn check_text(v: &mut Validation, text: &str) -> String {
        let text = text.trim();
        if text.is_empty() {
            v.fail("text", "must not be empty: say what broke");
        }
        v.body("text", text, EMERGENCY_TEXT_MAX)
    }
}

/// Who is acting, as far as escalation and emergency permissions go. The store derives
/// it from the actor and the stored person.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Party {
    /// A staff member (any role).
    Staff,
    /// A member of this customer organisation.
    Customer(OrgId),
    /// An API token not bound to a person (automation). Tokens are issued to staff.
    Token,
    /// Larkdesk itself (timers).
    System,
}

/// What a party wants to do to a ticket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TicketAct {
    /// Raise its escalation level.
    Escalate,
    /// Declare an emergency.
    DeclareEmergency,
    /// Acknowledge its emergency.
    Acknowledge,
}

/// Whether `party` may do `act` to a ticket of `ticket_org`: staff (and staff tokens)
/// may act on any ticket; a customer may escalate or declare an emergency only on their
/// own organisation's tickets, and never acknowledge; Larkdesk itself may escalate and
/// declare (timers), but an acknowledgement is a person's promise, so not its own.
pub fn check_party(party: Party, ticket_org: OrgId, act: TicketAct) -> Result<(), DomainError> {
    let refuse = |who, what| Err(DomainError::NotPermitted { who, what });
    match (party, act) {
        (Party::Staff | Party::Token, _) | (Party::System, TicketAct::Escalate | TicketAct::DeclareEmergency) => Ok(()),
        (Party::System, TicketAct::Acknowledge) => {
            refuse("system", "acknowledge an emergency; only staff may acknowledge")
        }
        (Party::Customer(_), TicketAct::Acknowledge) => {
            refuse("customer", "acknowledge an emergency; only staff may acknowledge")
        }
        (Party::Customer(org), _) if org == ticket_org => Ok(()),
        (Party::Customer(_), TicketAct::Escalate) => {
            refuse("customer", "escalate a ticket of another organisation; only their own organisation's")
        }
        (Party::Customer(_), TicketAct::DeclareEmergency) => refuse(
            "customer",
            "declare an emergency on a ticket of another organisation; only on their own organisation's",
        ),
    }
}

/// What an escalation request does to a ticket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EscalationStep {
    /// Up one level.
    Raise {
        /// The level before.
        from: i32,
        /// The level after.
        to: i32,
    },
    /// Within the merge window of the previous raise: the level stays, the reason is
    /// recorded with it.
    Merge {
        /// The level it stays at.
        level: i32,
    },
}

/// Decides an escalation of `ticket` on the ladder `levels` at `now`. Refused on a
/// resolved or closed ticket; merged within [`ESCALATION_MERGE_WINDOW`] of the previous
/// raise (also at the top, since the request is the one just granted); refused at the
/// top otherwise.
pub fn decide_escalation(ticket: &Ticket, levels: &[&str], now: DateTime<Utc>) -> Result<EscalationStep, DomainError> {
    if !ticket.status.is_active() {
        return Err(DomainError::TicketClosed { status: ticket.status });
    }
    let level = ticket.escalation_level;
    if ticket.escalated_at.is_some_and(|at| now - at < ESCALATION_MERGE_WINDOW) {
        return Ok(EscalationStep::Merge { level });
    }
    if level >= top_level(levels) {
        return Err(DomainError::EscalationTopLevel { level, name: level_name(levels, level) });
    }
    Ok(EscalationStep::Raise { from: level, to: level + 1 })
}

/// What a declaration does to a ticket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmergencyStep {
    /// The ticket is in emergency already: nothing changes.
    Already,
    /// Declare it.
    Declare {
        /// The ticket is resolved and goes back to open.
        reopen: bool,
        /// The severity it had, when it was not P1 already (it becomes P1).
        raise_from: Option<Severity>,
    },
}

/// Decides an emergency declaration on `ticket`. Refused on a closed ticket. A resolved
/// ticket is reopened, and a new emergency replaces one it had: the problem is back.
/// An active ticket already in emergency stays as it is.
pub fn decide_emergency(ticket: &Ticket) -> Result<EmergencyStep, DomainError> {
    let raise_from = (ticket.severity != Severity::P1).then_some(ticket.severity);
    match ticket.status {
        TicketStatus::Closed => Err(DomainError::TicketClosed { status: ticket.status }),
        TicketStatus::Resolved => Ok(EmergencyStep::Declare { reopen: true, raise_from }),
        _ if ticket.emergency.is_some() => Ok(EmergencyStep::Already),
        _ => Ok(EmergencyStep::Declare { reopen: false, raise_from }),
    }
}

/// What an acknowledgement does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AckStep {
    /// Record it.
    Acknowledge,
    /// Someone acknowledged already: nothing changes.
    Already(Acknowledged),
}

/// Decides an acknowledgement of `ticket`'s emergency: refused when there is none.
pub fn decide_acknowledgement(ticket: &Ticket) -> Result<AckStep, DomainError> {
    match &ticket.emergency {
        None => Err(DomainError::NoEmergency),
        Some(Emergency { acknowledged: Some(ack), .. }) => Ok(AckStep::Already(ack.clone())),
        Some(_) => Ok(AckStep::Acknowledge),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;
    use uuid::Uuid;

    fn t0() -> DateTime<Utc> {
        "2026-11-21T09:00:00Z".parse().unwrap()
    }

    fn org(n: u128) -> OrgId {
        OrgId::from_uuid(Uuid::from_u128(n))
    }

    fn ticket(status: TicketStatus, level: i32, escalated_at: Option<DateTime<Utc>>) -> Ticket {
        Ticket {
            id: crate::TicketId::from_uuid(Uuid::from_u128(7)),
            number: 7,
            org_id: org(1),
            requester_id: None,
            title: "Orders lost".into(),
            description: String::new(),
            severity: Severity::P3,
            status,
            assignee_id: None,
            escalation_level: level,
            escalated_at,
            emergency: None,
            external_refs: Vec::new(),
            created_at: t0(),
            updated_at: t0(),
            resolved_at: None,
            closed_at: None,
        }
    }

    fn emergency(acknowledged: Option<Acknowledged>) -> Emergency {
        Emergency {
            kind: EmergencyKind::DataLoss,
            text: "orders since 09:00 are gone".into(),
            declared_at: t0(),
            declared_by: None,
            declared_by_name: "Chen Jing".into(),
            acknowledged,
        }
    }

    #[test]
    fn the_default_ladder_names_its_levels() {
        assert_eq!(level_name(ESCALATION_LEVELS, 0), "engineer");
        assert_eq!(level_name(ESCALATION_LEVELS, 1), "senior_engineer");
        assert_eq!(level_name(ESCALATION_LEVELS, 2), "tam_lead");
        assert_eq!(level_name(ESCALATION_LEVELS, 5), "level_5", "beyond a shortened ladder");
        assert_eq!(level_name(ESCALATION_LEVELS, -1), "level_-1");
    }

    #[rstest]
    #[case::first(0, None, Ok(EscalationStep::Raise { from: 0, to: 1 }))]
    #[case::second_after_the_window(1, Some(10), Ok(EscalationStep::Raise { from: 1, to: 2 }))]
    #[case::repeat_inside_the_window(1, Some(9), Ok(EscalationStep::Merge { level: 1 }))]
    #[case::repeat_at_the_top_inside_the_window(2, Some(3), Ok(EscalationStep::Merge { level: 2 }))]
    #[case::at_the_top(2, Some(60), Err(DomainError::EscalationTopLevel { level: 2, name: "tam_lead".into() }))]
    fn escalation_climbs_one_level_and_merges_repeats(
        #[case] level: i32,
        #[case] minutes_since_last: Option<i64>,
        #[case] expected: Result<EscalationStep, DomainError>,
    ) {
        let now = t0() + TimeDelta::hours(1);
        let last = minutes_since_last.map(|m| now - TimeDelta::minutes(m));
        let t = ticket(TicketStatus::InProgress, level, last);
        assert_eq!(decide_escalation(&t, ESCALATION_LEVELS, now), expected);
    }

    #[test]
    fn the_merge_window_ends_at_exactly_ten_minutes() {
        let t = ticket(TicketStatus::Open, 1, Some(t0()));
        let just_before = t0() + ESCALATION_MERGE_WINDOW - TimeDelta::seconds(1);
        assert_eq!(decide_escalation(&t, ESCALATION_LEVELS, just_before), Ok(EscalationStep::Merge { level: 1 }));
        let at = t0() + ESCALATION_MERGE_WINDOW;
        assert_eq!(decide_escalation(&t, ESCALATION_LEVELS, at), Ok(EscalationStep::Raise { from: 1, to: 2 }));
    }

    #[rstest]
    #[case(TicketStatus::Resolved)]
    #[case(TicketStatus::Closed)]
    fn finished_tickets_are_not_escalated(#[case] status: TicketStatus) {
        let t = ticket(status, 0, None);
        assert_eq!(decide_escalation(&t, ESCALATION_LEVELS, t0()), Err(DomainError::TicketClosed { status }));
    }

    #[test]
    fn a_ladder_is_data() {
        let two_steps = ["engineer", "duty_manager"];
        let t = ticket(TicketStatus::Open, 1, None);
        assert_eq!(
            decide_escalation(&t, &two_steps, t0()),
            Err(DomainError::EscalationTopLevel { level: 1, name: "duty_manager".into() })
        );
    }

    #[test]
    fn an_emergency_raises_severity_and_reopens_a_resolved_ticket() {
        let open = ticket(TicketStatus::Open, 0, None);
        assert_eq!(
            decide_emergency(&open),
            Ok(EmergencyStep::Declare { reopen: false, raise_from: Some(Severity::P3) })
        );
        let mut p1 = ticket(TicketStatus::InProgress, 0, None);
        p1.severity = Severity::P1;
        assert_eq!(decide_emergency(&p1), Ok(EmergencyStep::Declare { reopen: false, raise_from: None }));
        let resolved = ticket(TicketStatus::Resolved, 0, None);
        assert_eq!(
            decide_emergency(&resolved),
            Ok(EmergencyStep::Declare { reopen: true, raise_from: Some(Severity::P3) })
        );
        let closed = ticket(TicketStatus::Closed, 0, None);
        assert_eq!(decide_emergency(&closed), Err(DomainError::TicketClosed { status: TicketStatus::Closed }));
    }

    #[test]
    fn declaring_twice_changes_nothing_unless_the_ticket_was_resolved_since() {
        let mut t = ticket(TicketStatus::InProgress, 0, None);
        t.emergency = Some(emergency(None));
        assert_eq!(decide_emergency(&t), Ok(EmergencyStep::Already));
        t.status = TicketStatus::Resolved;
        assert!(matches!(decide_emergency(&t), Ok(EmergencyStep::Declare { reopen: true, .. })), "it broke again");
    }

    #[test]
    fn acknowledgement_needs_an_emergency_and_happens_once() {
        let mut t = ticket(TicketStatus::Open, 0, None);
        assert_eq!(decide_acknowledgement(&t), Err(DomainError::NoEmergency));
        t.emergency = Some(emergency(None));
        assert_eq!(decide_acknowledgement(&t), Ok(AckStep::Acknowledge));
        let ack = Acknowledged { by: None, by_name: "Zhang Wei".into(), at: t0() };
        t.emergency = Some(emergency(Some(ack.clone())));
        assert_eq!(decide_acknowledgement(&t), Ok(AckStep::Already(ack)));
    }

    #[rstest]
    #[case::staff(Party::Staff, TicketAct::Acknowledge, true)]
    #[case::token(Party::Token, TicketAct::Acknowledge, true)]
    #[case::staff_escalates_any_org(Party::Staff, TicketAct::Escalate, true)]
    #[case::own_customer_escalates(Party::Customer(org(1)), TicketAct::Escalate, true)]
    #[case::own_customer_declares(Party::Customer(org(1)), TicketAct::DeclareEmergency, true)]
    #[case::own_customer_cannot_acknowledge(Party::Customer(org(1)), TicketAct::Acknowledge, false)]
    #[case::other_customer_cannot_escalate(Party::Customer(org(2)), TicketAct::Escalate, false)]
    #[case::other_customer_cannot_declare(Party::Customer(org(2)), TicketAct::DeclareEmergency, false)]
    #[case::timers_escalate(Party::System, TicketAct::Escalate, true)]
    #[case::timers_do_not_acknowledge(Party::System, TicketAct::Acknowledge, false)]
    fn who_may_act_on_a_ticket(#[case] party: Party, #[case] act: TicketAct, #[case] allowed: bool) {
        let result = check_party(party, org(1), act);
        assert_eq!(result.is_ok(), allowed, "{result:?}");
        if let Err(e) = result {
            assert!(matches!(e, DomainError::NotPermitted { .. }));
            assert!(e.to_string().contains("may not"), "{e}");
        }
    }

    #[test]
    fn requests_are_checked_field_by_field() {
        assert_eq!(NewEscalation::parse("  customer waiting  ").unwrap().reason, "customer waiting");
        let DomainError::Invalid(e) = NewEscalation::parse(" ").unwrap_err() else { panic!() };
        assert_eq!(e[0].field, "reason");
        let DomainError::Invalid(e) = NewEscalation::parse("two\nlines").unwrap_err() else { panic!() };
        assert_eq!(e[0].field, "reason");

        let ok = NewEmergency::parse("data_loss", "orders gone\nsince 09:00").unwrap();
        assert_eq!((ok.kind, ok.text.as_str()), (EmergencyKind::DataLoss, "orders gone\nsince 09:00"));
        let DomainError::Invalid(e) = NewEmergency::parse("fire", "").unwrap_err() else { panic!() };
        let fields: Vec<_> = e.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(fields, ["kind", "text"]);
        assert!(NewEmergency::new(EmergencyKind::ServiceUnavailable, "down").is_ok());
    }

    #[test]
    fn kinds_round_trip_through_their_names() {
        for k in EmergencyKind::ALL {
            assert_eq!(k.as_str().parse::<EmergencyKind>().unwrap(), k);
        }
    }
}
