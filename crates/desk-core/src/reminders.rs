//! Reminder rules: an organisation's own additions to the notification policy, in the
//! manner of Sobot's reminders ("notify the assignee in Lark when a customer replies",
//! "notify the TAM when a P1 is created").
//!
//! A rule is a trigger (the same vocabulary as `notify::RULES`), a condition (the
//! ticket's severity) and an audience. Rules are evaluated where outbox events are
//! planned into notifications, next to the built-in rules, so they apply to changes from
//! every source (REST, Lark, ticketing hooks) and share the per-recipient merging: a
//! person told by a built-in rule and by a reminder about one event gets one card, at the
//! more urgent class of the two.

use chrono::{DateTime, Utc};

use crate::notify::{Audience, NotifyClass, Trigger};
use crate::{DomainError, OrgId, PersonId, Severity, Validation};

/// Every trigger a reminder may use.
pub const TRIGGERS: [Trigger; 9] = [
    Trigger::TicketCreated,
    Trigger::TicketAssigned,
    Trigger::StatusChanged,
    Trigger::CustomerComment,
    Trigger::StaffComment,
    Trigger::InternalComment,
    Trigger::Escalated,
    Trigger::EmergencyDeclared,
    Trigger::EmergencyAcknowledged,
];

/// Keeps [`TRIGGERS`] complete: a trigger added to `notify` fails to compile here until
/// it is listed (and so offered to reminders).
const fn listed(t: Trigger) -> bool {
    match t {
        Trigger::TicketCreated
        | Trigger::TicketAssigned
        | Trigger::StatusChanged
        | Trigger::CustomerComment
        | Trigger::StaffComment
        | Trigger::InternalComment
        | Trigger::Escalated
        | Trigger::EmergencyDeclared
        | Trigger::EmergencyAcknowledged => true,
    }
}

/// Parses a trigger's stable name.
pub fn parse_trigger(s: &str) -> Option<Trigger> {
    TRIGGERS.into_iter().find(|t| listed(*t) && t.as_str() == s)
}

/// Who a reminder tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReminderAudience {
    /// One of the built-in audiences (assignee, TAM, requester, ticket group).
    Role(Audience),
    /// A named staff member (a duty manager, a team lead).
    Person(PersonId),
}

impl ReminderAudience {
    /// Stable name of its kind (`assignee`, `tam`, `requester`, `ticket_group`, `person`).
    pub const fn kind(self) -> &'static str {
        match self {
            Self::Role(Audience::Assignee | Audience::NewAssignee) => "assignee",
            Self::Role(Audience::Tam) => "tam",
            Self::Role(Audience::Requester) => "requester",
            Self::Role(Audience::TicketGroup) => "ticket_group",
            Self::Person(_) => "person",
        }
    }

    /// The person, for `person`.
    pub const fn person_id(self) -> Option<PersonId> {
        match self {
            Self::Person(p) => Some(p),
            Self::Role(_) => None,
        }
    }

    /// From the stored kind and person.
    pub fn from_parts(kind: &str, person: Option<PersonId>) -> Option<Self> {
        Some(match (kind, person) {
            ("assignee", _) => Self::Role(Audience::Assignee),
            ("tam", _) => Self::Role(Audience::Tam),
            ("requester", _) => Self::Role(Audience::Requester),
            ("ticket_group", _) => Self::Role(Audience::TicketGroup),
            ("person", Some(p)) => Self::Person(p),
            _ => return None,
        })
    }
}

/// The classes a reminder may send at: emergencies page through the on-call chain, not
/// through reminders, and digests and card edits are the dispatcher's own.
pub const CLASSES: [NotifyClass; 3] = [NotifyClass::Action, NotifyClass::StateChange, NotifyClass::ResponseWarning];

/// One stored reminder rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReminderRule {
    /// Its id.
    pub id: uuid::Uuid,
    /// The organisation whose tickets it watches.
    pub org_id: OrgId,
    /// For people.
    pub name: String,
    /// When.
    pub trigger: Trigger,
    /// Only tickets of these severities (empty: any).
    pub severities: Vec<Severity>,
    /// Who is told.
    pub audience: ReminderAudience,
    /// How urgently.
    pub class: NotifyClass,
    /// Whether it is applied.
    pub enabled: bool,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
}

impl ReminderRule {
    /// Whether the rule fires for `trigger` on a ticket of `severity`.
    pub fn applies(&self, trigger: Trigger, severity: Severity) -> bool {
        self.enabled && self.trigger == trigger && (self.severities.is_empty() || self.severities.contains(&severity))
    }
}

/// Most rules per organisation.
pub const RULES_MAX: usize = 50;

/// The raw fields of a rule.
#[derive(Debug, Clone, Copy, Default)]
pub struct ReminderInput<'a> {
    /// `name`.
    pub name: Option<&'a str>,
    /// `trigger`.
    pub trigger: Option<&'a str>,
    /// `severities`.
    pub severities: Option<&'a [&'a str]>,
    /// `audience`.
    pub audience: Option<&'a str>,
    /// `person_id` (for `audience: person`).
    pub person_id: Option<PersonId>,
    /// `class`.
    pub class: Option<&'a str>,
    /// `enabled`.
    pub enabled: Option<bool>,
}

/// A checked rule (new, or a whole replacement on change).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewReminderRule {
    /// Name.
    pub name: String,
    /// Trigger.
    pub trigger: Trigger,
    /// Severities.
    pub severities: Vec<Severity>,
    /// Audience.
    pub audience: ReminderAudience,
    /// Class.
    pub class: NotifyClass,
    /// Enabled.
    pub enabled: bool,
}

fn trigger_names() -> String {
    TRIGGERS.iter().map(|t| t.as_str()).collect::<Vec<_>>().join(", ")
}

impl NewReminderRule {
    /// Checks raw input; `base` gives the current values for a partial change.
    pub fn parse(input: ReminderInput<'_>, base: Option<&ReminderRule>) -> Result<Self, DomainError> {
        let mut v = Validation::new();
        let name = match (input.name, base) {
            (Some(n), _) => v.required_line("name", n, 200),
            (None, Some(b)) => b.name.clone(),
            (None, None) => {
                v.fail("name", "is required");
                String::new()
            }
        };
        let trigger = match (input.trigger, base) {
            (Some(t), _) => parse_trigger(t).or_else(|| {
                v.fail("trigger", format!("must be one of {}", trigger_names()));
                None
            }),
            (None, Some(b)) => Some(b.trigger),
            (None, None) => {
                v.fail("trigger", format!("is required: one of {}", trigger_names()));
                None
            }
        };
        let severities = match (input.severities, base) {
            (Some(list), _) => {
                let mut out = Vec::new();
                for (i, s) in list.iter().enumerate() {
                    match s.parse::<Severity>() {
                        Ok(s) if !out.contains(&s) => out.push(s),
                        Ok(_) => {}
                        Err(_) => v.fail(format!("severities[{i}]"), "must be one of P1, P2, P3, P4"),
                    }
                }
                out.sort();
                out
            }
            (None, Some(b)) => b.severities.clone(),
            (None, None) => Vec::new(),
        };
        let person = input.person_id.or_else(|| base.and_then(|b| b.audience.person_id()));
        let audience = match (input.audience, base) {
            (Some(a), _) => {
                let parsed = ReminderAudience::from_parts(a, person);
                if parsed.is_none() {
                    if a == "person" {
                        v.fail("person_id", "is required for audience person");
                    } else {
                        v.fail("audience", "must be one of assignee, tam, requester, ticket_group, person");
                    }
                }
                parsed
            }
            (None, Some(b)) => Some(b.audience),
            (None, None) => {
                v.fail("audience", "is required: one of assignee, tam, requester, ticket_group, person");
                None
            }
        };
        if input.person_id.is_some() && !matches!(audience, Some(ReminderAudience::Person(_))) {
            v.fail("person_id", "is only for audience person");
        }
        let class = match (input.class, base) {
            (Some(c), _) => match NotifyClass::parse(c).filter(|c| CLASSES.contains(c)) {
                Some(c) => Some(c),
                None => {
                    v.fail("class", "must be action, state_change or response_warning");
                    None
                }
            },
            (None, Some(b)) => Some(b.class),
            (None, None) => Some(NotifyClass::Action),
        };
        let enabled = input.enabled.or(base.map(|b| b.enabled)).unwrap_or(true);
        match (trigger, audience, class) {
            (Some(trigger), Some(audience), Some(class)) => {
                v.finish(Self { name, trigger, severities, audience, class, enabled })
            }
            _ => Err(v.finish(()).err().unwrap_or_else(|| DomainError::invalid("", "incomplete rule"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(input: ReminderInput<'_>) -> Result<NewReminderRule, DomainError> {
        NewReminderRule::parse(input, None)
    }

    #[test]
    fn the_two_sobot_examples_parse() {
        let reply = rule(ReminderInput {
            name: Some("customer replied"),
            trigger: Some("customer_comment"),
            audience: Some("assignee"),
            ..ReminderInput::default()
        })
        .unwrap();
        assert_eq!(reply.class, NotifyClass::Action);
        let p1 = rule(ReminderInput {
            name: Some("P1 opened"),
            trigger: Some("ticket_created"),
            severities: Some(&["P1"]),
            audience: Some("tam"),
            ..ReminderInput::default()
        })
        .unwrap();
        assert_eq!(p1.severities, [Severity::P1]);
        let stored = ReminderRule {
            id: uuid::Uuid::nil(),
            org_id: OrgId::from_uuid(uuid::Uuid::nil()),
            name: p1.name,
            trigger: p1.trigger,
            severities: p1.severities,
            audience: p1.audience,
            class: p1.class,
            enabled: true,
            created_at: "2026-11-21T09:00:00Z".parse().unwrap(),
            updated_at: "2026-11-21T09:00:00Z".parse().unwrap(),
        };
        assert!(stored.applies(Trigger::TicketCreated, Severity::P1));
        assert!(!stored.applies(Trigger::TicketCreated, Severity::P2));
        assert!(!stored.applies(Trigger::CustomerComment, Severity::P1));
    }

    #[test]
    fn bad_rules_name_every_field() {
        let err = rule(ReminderInput {
            trigger: Some("ticket_exploded"),
            severities: Some(&["P9"]),
            audience: Some("person"),
            class: Some("emergency"),
            ..ReminderInput::default()
        })
        .unwrap_err();
        let DomainError::Invalid(errors) = err else { panic!() };
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["name", "trigger", "severities[0]", "person_id", "class"]);
    }

    #[test]
    fn every_trigger_is_offered() {
        for t in TRIGGERS {
            assert_eq!(parse_trigger(t.as_str()), Some(t));
        }
    }
}
