//! sea-orm entities, one per table. They stop at the repository boundary: nothing
//! outside desk-store sees a `Model`. Hand-written to match the migrations (sea-orm-cli
//! is not part of the build); `tests/it` runs every query against both databases.

pub mod api_token;
pub mod comment;
pub mod counter;
pub mod delivery;
pub mod external_ref;
pub mod integration;
pub mod invite;
pub mod invite_redemption;
pub mod lark_budget;
pub mod lark_call;
pub mod lark_chat;
pub mod lark_chat_member;
pub mod lark_chat_task;
pub mod lark_event;
pub mod notification;
pub mod notify_window;
pub mod org;
pub mod outbox_event;
pub mod person;
pub mod ticket;
pub mod timeline_entry;
