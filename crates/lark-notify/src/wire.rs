//! Lark's wire types for the calls Larkdesk makes (lark-spec.md §2–§4). Field names are
//! Lark's; nothing here knows about tickets.

use serde::{Deserialize, Serialize};

/// Who a message goes to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ReceiveId {
    /// `open_id`, `union_id`, `user_id`, `email` or `chat_id`.
    pub kind: ReceiveIdType,
    /// The id of that kind.
    pub id: String,
}

impl ReceiveId {
    /// A person by their open_id (a DM from the bot).
    pub fn open_id(id: impl Into<String>) -> Self {
        Self { kind: ReceiveIdType::OpenId, id: id.into() }
    }

    /// A group chat.
    pub fn chat(id: impl Into<String>) -> Self {
        Self { kind: ReceiveIdType::ChatId, id: id.into() }
    }
}

/// The `receive_id_type` query value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReceiveIdType {
    /// `open_id`.
    OpenId,
    /// `union_id`.
    UnionId,
    /// `user_id`.
    UserId,
    /// `email`.
    Email,
    /// `chat_id`.
    ChatId,
}

impl ReceiveIdType {
    /// The query value.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::OpenId => "open_id",
            Self::UnionId => "union_id",
            Self::UserId => "user_id",
            Self::Email => "email",
            Self::ChatId => "chat_id",
        }
    }
}

/// A message body: Lark wants `msg_type` and `content` as a JSON *string*.
#[derive(Debug, Clone, PartialEq)]
pub enum Content {
    /// Plain text (`<at user_id="ou_…">Name</at>` mentions allowed).
    Text(String),
    /// An interactive card (card JSON 1.0 or 2.0).
    Card(serde_json::Value),
}

impl Content {
    /// Lark's `msg_type`.
    pub fn msg_type(&self) -> &'static str {
        match self {
            Self::Text(_) => "text",
            Self::Card(_) => "interactive",
        }
    }

    /// Lark's `content`: the JSON serialised into a string.
    pub fn to_content_string(&self) -> String {
        match self {
            Self::Text(text) => serde_json::json!({ "text": text }).to_string(),
            Self::Card(card) => card.to_string(),
        }
    }
}

/// The message object Lark returns (the fields Larkdesk uses).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct Message {
    /// `om_…`.
    pub message_id: String,
    /// The chat it is in (a p2p chat for DMs).
    #[serde(default)]
    pub chat_id: Option<String>,
    /// `text`, `interactive`, ….
    #[serde(default)]
    pub msg_type: Option<String>,
    /// Milliseconds, as a string.
    #[serde(default)]
    pub create_time: Option<String>,
    /// Thread root.
    #[serde(default)]
    pub root_id: Option<String>,
    /// The message replied to.
    #[serde(default)]
    pub parent_id: Option<String>,
}

/// A new group chat.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CreateChat {
    /// Name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Owner (an open_id); omitted → the bot owns it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner_id: Option<String>,
    /// Members to add (≤ 50 open_ids).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub user_id_list: Vec<String>,
    /// Other bots (app ids).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub bot_id_list: Vec<String>,
    /// `private` (default) or `public`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chat_type: Option<String>,
    /// Whether people of other tenants may be in it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external: Option<bool>,
}

/// A chat as Lark describes it (the fields Larkdesk uses).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct Chat {
    /// `oc_…` (absent on GET, where the caller already knows it).
    #[serde(default)]
    pub chat_id: Option<String>,
    /// Name.
    #[serde(default)]
    pub name: Option<String>,
    /// Description.
    #[serde(default)]
    pub description: Option<String>,
    /// Owner id.
    #[serde(default)]
    pub owner_id: Option<String>,
    /// Whether it is an external chat.
    #[serde(default)]
    pub external: Option<bool>,
    /// The tenant it belongs to.
    #[serde(default)]
    pub tenant_key: Option<String>,
    /// Number of users, as Lark's string.
    #[serde(default)]
    pub user_count: Option<String>,
    /// `normal`, `dissolved`, … (GET only).
    #[serde(default)]
    pub chat_status: Option<String>,
}

/// Changes to a chat (`PUT`).
#[derive(Debug, Clone, Default, Serialize)]
pub struct UpdateChat {
    /// New name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// New description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// New owner (transfer).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner_id: Option<String>,
}

/// What adding members did.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
pub struct AddMembers {
    /// Ids Lark could not use (resigned, invisible, …).
    #[serde(default)]
    pub invalid_id_list: Vec<String>,
    /// Ids that do not exist.
    #[serde(default)]
    pub not_existed_id_list: Vec<String>,
    /// Ids waiting for an admin's approval.
    #[serde(default)]
    pub pending_approval_id_list: Vec<String>,
}

/// What removing members did.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
pub struct RemoveMembers {
    /// Ids Lark could not use.
    #[serde(default)]
    pub invalid_id_list: Vec<String>,
}

/// One chat member.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct Member {
    /// The id (of the requested type).
    pub member_id: String,
    /// Its type.
    #[serde(default)]
    pub member_id_type: Option<String>,
    /// Display name.
    #[serde(default)]
    pub name: Option<String>,
    /// Their tenant: a member of another tenant makes the chat external.
    #[serde(default)]
    pub tenant_key: Option<String>,
}

/// One page of chat members.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct MembersPage {
    /// Members.
    #[serde(default)]
    pub items: Vec<Member>,
    /// For the next page.
    #[serde(default)]
    pub page_token: Option<String>,
    /// Whether there is a next page.
    #[serde(default)]
    pub has_more: bool,
    /// Total members.
    #[serde(default)]
    pub member_total: Option<u64>,
}

/// How long a share link lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkValidity {
    /// 7 days.
    Week,
    /// 1 year.
    Year,
    /// Forever.
    Permanently,
}

impl LinkValidity {
    /// Lark's value.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Week => "week",
            Self::Year => "year",
            Self::Permanently => "permanently",
        }
    }
}

/// A chat share link.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct ChatLink {
    /// The link.
    pub share_link: String,
    /// Unix seconds, as a string.
    #[serde(default)]
    pub expire_time: Option<String>,
    /// Whether it never expires.
    #[serde(default)]
    pub is_permanent: bool,
}

/// A user's account state.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
pub struct UserStatus {
    /// Frozen.
    #[serde(default)]
    pub is_frozen: bool,
    /// Resigned.
    #[serde(default)]
    pub is_resigned: bool,
    /// Activated.
    #[serde(default)]
    pub is_activated: bool,
}

/// One answer of an id look-up by e-mail or mobile; `user_id` is absent when nobody matched.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct UserIdMatch {
    /// The id of the requested type (open_id here), when found.
    #[serde(default)]
    pub user_id: Option<String>,
    /// The e-mail asked about.
    #[serde(default)]
    pub email: Option<String>,
    /// The mobile asked about.
    #[serde(default)]
    pub mobile: Option<String>,
    /// Account state.
    #[serde(default)]
    pub status: Option<UserStatus>,
}

/// A user's profile (the fields Larkdesk uses; which are filled depends on scopes).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct User {
    /// Name.
    #[serde(default)]
    pub name: Option<String>,
    /// open_id.
    #[serde(default)]
    pub open_id: Option<String>,
    /// union_id.
    #[serde(default)]
    pub union_id: Option<String>,
    /// user_id.
    #[serde(default)]
    pub user_id: Option<String>,
    /// E-mail.
    #[serde(default)]
    pub email: Option<String>,
    /// Mobile.
    #[serde(default)]
    pub mobile: Option<String>,
    /// Time zone (IANA).
    #[serde(default)]
    pub time_zone: Option<String>,
    /// Account state.
    #[serde(default)]
    pub status: Option<UserStatus>,
}

/// The bot's own identity (`GET /open-apis/bot/v3/info`).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct BotInfo {
    /// App name.
    #[serde(default)]
    pub app_name: Option<String>,
    /// The bot's open_id (to recognise @-mentions of it).
    #[serde(default)]
    pub open_id: Option<String>,
    /// 2 = activated.
    #[serde(default)]
    pub activate_status: Option<i64>,
}
