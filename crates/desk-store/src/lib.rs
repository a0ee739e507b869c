#![doc = include_str!("../README.md")]

mod binding;
mod clock;
mod db;
pub mod entity;
mod error;
mod escalation;
pub mod hooks;
mod integrations;
mod invites;
mod lark;
mod members;
mod notify;
mod orgs;
mod pagination;
mod people;
mod queue;
mod secrets;
mod tickets;
mod tokens;

pub use clock::{Clock, ManualClock, SystemClock};
pub use db::{Backend, ConnectSettings, Store};
pub use error::StoreError;
pub use escalation::{
    CalendarRecord, ClaimedTimer, FireSettings, Fired, OnCallNow, OverrideRecord, PagingView, PolicyRecord,
    PolicyScope, ScheduleRecord, SimBudget, SimulationData, TargetView, TicketEscalation, TimerKind, source_name,
};
pub use integrations::IntegrationSecrets;
pub use invites::{Invite, InviteJoin, InviteTarget, NewInvite, REVOKED_BY_STAFF, REVOKED_TICKET_CLOSED};
pub use lark::{
    Accepted, ChatKind, ChatMember, ChatState, ClaimedEvent, InboundEvent, InboxState, InboxSummary, KnownChat,
    MemberChange, Via,
};
pub use lark::{EXTERNAL_CHAT_DISABLED, Group, GroupAudience, GroupFilter, GroupRequest, GroupTask, GroupTaskKind};
pub use members::RosterEntry;
pub use notify::{
    BudgetUsage, ComposeInput, DeliveryFilter, LedgerEntry, LedgerSummary, NotificationRequest, Outgoing, PlanReport,
    Rendered,
};
pub use orgs::{DeskView, OrgFilter, StatusCounts};
pub use pagination::{Cursor, CursorError, Page, PageRequest};
pub use people::PersonFilter;
pub use secrets::{SealError, SecretBox};
pub use tickets::{EmergencyAcknowledgement, EmergencyDeclaration, Escalation, TicketFilter, TicketOrder};
pub use tokens::{NewToken, TokenInfo, TokenIssued, TokenOwner};
