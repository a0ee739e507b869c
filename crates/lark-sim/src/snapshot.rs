//! The inspectable picture of the simulator, served at `GET /_sim/state` and by [`crate::SimHandle::snapshot`].

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::config::SimUserInfo;

/// Everything a test may want to assert on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    /// Chats in creation order, including p2p chats and disbanded ones.
    pub chats: Vec<ChatSnapshot>,
    /// Messages in creation order.
    pub messages: Vec<MessageSnapshot>,
    /// Call counters.
    pub calls: CallStats,
    /// Distinct tenant and app tokens handed out.
    pub tokens_issued: u64,
    /// The directory with assigned ids.
    pub users: Vec<SimUserInfo>,
    /// The sim clock, Unix milliseconds.
    pub now_ms: i64,
}

/// One chat.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatSnapshot {
    /// `oc_…`.
    pub chat_id: String,
    /// Chat name (empty for p2p chats).
    pub name: String,
    /// Chat description.
    pub description: String,
    /// Owner's open_id, or the app id when the bot owns the chat.
    pub owner_id: String,
    /// Whether it is an external chat (only an app with external sharing creates one).
    pub external: bool,
    /// Set once the chat was disbanded.
    pub disbanded: bool,
    /// open_ids of the user members, in joining order.
    pub members: Vec<String>,
    /// Whether the simulated bot is in the chat.
    pub bot_member: bool,
    /// Whether this is the bot's one-to-one chat with a user.
    pub p2p: bool,
    /// The `uuid` the chat was created with.
    pub uuid: Option<String>,
}

/// One message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageSnapshot {
    /// `om_…`.
    pub message_id: String,
    /// The chat the message landed in.
    pub chat_id: String,
    /// `open_id`, `email`, `chat_id`, …, or `message_id` for replies; `chat_id` for what people wrote.
    pub receive_id_type: String,
    /// The id the sender addressed (the parent message for replies).
    pub receive_id: String,
    /// `text`, `interactive`, ….
    pub msg_type: String,
    /// The current content string (after any PATCH).
    pub content: String,
    /// Idempotency key of the send.
    pub uuid: Option<String>,
    /// Thread root, for replies.
    pub root_id: Option<String>,
    /// Replied-to message, for replies.
    pub parent_id: Option<String>,
    /// Unix milliseconds as a string, as Lark writes it.
    pub create_time: String,
    /// How many PATCHes succeeded.
    pub update_count: u32,
    /// Content strings of those PATCHes (and of cards replaced by a callback answer), oldest first.
    pub updates: Vec<String>,
    /// `app` for the bot's messages, `user` for what people wrote ([`crate::SimHandle::user_says`]).
    #[serde(default)]
    pub sender_type: String,
    /// The app id, or the writer's open_id.
    #[serde(default)]
    pub sender_id: String,
}

/// Call counters.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallStats {
    /// Every request that reached a Lark route, failures included.
    pub total: u64,
    /// Successful billable calls in the current sim month.
    pub billed: u64,
    /// Requests per `"METHOD /route/:pattern"`.
    pub by_route: BTreeMap<String, u64>,
}
