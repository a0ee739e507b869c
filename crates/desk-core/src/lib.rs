#![doc = include_str!("../README.md")]

mod auth;
pub mod binding;
pub mod calendar;
pub mod commands;
mod error;
pub mod escalation;
pub mod hooks;
mod ids;
mod integration;
pub mod invite;
pub mod membership;
pub mod notify;
pub mod oncall;
mod org;
mod person;
mod preferences;
pub mod reminders;
pub mod targets;
mod ticket;
mod timeline;
mod validation;
pub mod webhooks;

pub use auth::{Action, Role};
pub use error::DomainError;
pub use escalation::{
    AckStep, Acknowledged, ESCALATION_LEVELS, ESCALATION_MERGE_WINDOW, Emergency, EmergencyKind, EmergencyStep,
    EscalationStep, NewEmergency, NewEscalation, Party, TicketAct, check_party, decide_acknowledgement,
    decide_emergency, decide_escalation, level_name,
};
pub use ids::{CommentId, InviteId, OrgId, PersonId, TicketId, TimelineEntryId, TokenId};
pub use integration::{
    FEISHU_BASE_URL, Integration, IntegrationInput, IntegrationPatch, LARK_BASE_URL, LarkMode, NewIntegration,
};
pub use org::{NewOrg, Org, OrgPatch, SupportPlan};
pub use person::{NewPerson, Person, PersonInput, PersonKind, PersonPatch, PersonPatchInput};
pub use preferences::{DEFAULT_TIME_ZONE, Locale, QuietHours, parse_time_zone};
pub use ticket::{
    Comment, CommentVisibility, ExternalRef, NewComment, NewTicket, NewTicketInput, Severity, Ticket, TicketPatch,
    TicketStatus, check_transition,
};
pub use timeline::{Actor, ActorKind, MembershipVia, TimelineEntry, TimelineEvent};
pub use validation::{FieldError, Validation};
