#![doc = include_str!("../README.md")]

pub mod binding;
pub mod external;
mod groups;
pub mod invites;
mod lark_call;
pub mod members;

pub use groups::{CHAT_NAME_MAX, GroupError, GroupManager, GroupReport, GroupSettings, chat_name};
pub use lark_call::LarkCallError;
