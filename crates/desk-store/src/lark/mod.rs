//! Lark inbound: the durable inbox of events, and the chats the desk serves with their
//! members. The webhook and the long connection both put events here before they
//! acknowledge, so an acknowledged event is never lost; the inbox's unique keys are the
//! de-duplication memory, kept for the retention.

mod chats;
pub(crate) mod groups;
mod inbox;
mod lookup;

pub use chats::{ChatKind, ChatMember, ChatState, KnownChat, MemberChange};
pub use groups::{EXTERNAL_CHAT_DISABLED, Group, GroupAudience, GroupFilter, GroupRequest, GroupTask, GroupTaskKind};
pub use inbox::{Accepted, ClaimedEvent, InboundEvent, InboxState, InboxSummary, Via};
