#![doc = include_str!("../README.md")]

mod clock;
mod db;
pub mod entity;
mod error;
mod integrations;
mod lark;
mod notify;
mod orgs;
mod pagination;
mod people;
mod secrets;
mod tickets;
mod tokens;

pub use clock::{Clock, ManualClock, SystemClock};
pub use db::{Backend, ConnectSettings, Store};
pub use error::StoreError;
pub use integrations::IntegrationSecrets;
pub use lark::{
    Accepted, ChatKind, ChatMember, ChatState, ClaimedEvent, InboundEvent, InboxState, InboxSummary, KnownChat,
    MemberChange, Via,
};
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
