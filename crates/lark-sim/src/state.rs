//! Everything the simulator remembers. One [`State`] lives behind one mutex; handlers take
//! `&mut State` and never await while holding it.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::{Map, Value, json};

use crate::config::{LimitsUpdate, SimConfig, SimUser, SimUserInfo};
use crate::events::{Pushes, Subscription};
use crate::faults::Faults;
use crate::ids;
use crate::limits::{Quota, RateLimits};
use crate::push::Pusher;
use crate::snapshot::{CallStats, ChatSnapshot, MessageSnapshot, Snapshot};
use crate::ws;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TokenKind {
    Tenant,
    App,
}

#[derive(Debug)]
pub(crate) struct Token {
    pub(crate) value: String,
    pub(crate) kind: TokenKind,
    pub(crate) expires_ms: i64,
    pub(crate) revoked: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Owner {
    Bot,
    User(String),
}

#[derive(Debug)]
pub(crate) struct Chat {
    pub(crate) chat_id: String,
    pub(crate) name: String,
    pub(crate) description: String,
    pub(crate) owner: Owner,
    pub(crate) disbanded: bool,
    /// open_ids of user members.
    pub(crate) members: Vec<String>,
    pub(crate) bot_member: bool,
    pub(crate) bot_manager: bool,
    pub(crate) p2p: bool,
    pub(crate) created_by_bot: bool,
    pub(crate) uuid: Option<String>,
    /// Settings echoed back by get/create (chat_type, avatar, permissions, …).
    pub(crate) settings: Map<String, Value>,
}

/// Who wrote a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Sender {
    /// The bot, through the API.
    App,
    /// A directory user (open_id), through [`crate::SimHandle::user_says`].
    User(String),
}

#[derive(Debug)]
pub(crate) struct Message {
    pub(crate) message_id: String,
    pub(crate) chat_id: String,
    pub(crate) receive_id_type: String,
    pub(crate) receive_id: String,
    pub(crate) msg_type: String,
    pub(crate) content: String,
    pub(crate) uuid: Option<String>,
    pub(crate) root_id: Option<String>,
    pub(crate) parent_id: Option<String>,
    pub(crate) thread_id: Option<String>,
    pub(crate) sender: Sender,
    pub(crate) create_ms: i64,
    pub(crate) update_ms: i64,
    pub(crate) updates: Vec<String>,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub(crate) monthly_quota: u64,
    pub(crate) per_sec: u32,
    pub(crate) per_min: u32,
    pub(crate) per_target_qps: u32,
}

#[derive(Debug)]
pub(crate) struct State {
    pub(crate) app_id: String,
    pub(crate) app_secret: String,
    pub(crate) tenant_key: String,
    pub(crate) bot_open_id: String,
    pub(crate) bot_union_id: String,
    pub(crate) limits: Limits,
    /// Whether the app may create external chats (its external sharing is on).
    pub(crate) external_chats: bool,
    clock_offset: TimeDelta,
    pub(crate) users: Vec<SimUserInfo>,
    pub(crate) tokens: Vec<Token>,
    pub(crate) tokens_issued: u64,
    pub(crate) chats: Vec<Chat>,
    chat_index: HashMap<String, usize>,
    /// (uuid, owner_id as sent) → chat index and creation time.
    pub(crate) chat_uuids: HashMap<(String, String), (usize, i64)>,
    p2p_chats: HashMap<String, usize>,
    pub(crate) messages: Vec<Message>,
    message_index: HashMap<String, usize>,
    pub(crate) message_uuids: HashMap<String, usize>,
    pub(crate) calls_total: u64,
    pub(crate) calls_by_route: BTreeMap<String, u64>,
    pub(crate) quota: Quota,
    pub(crate) rates: RateLimits,
    pub(crate) faults: Faults,
    /// How the app receives events; nothing is pushed without one.
    pub(crate) subscription: Option<Subscription>,
    pub(crate) pushes: Pushes,
    /// Long-connection discovery: the WebSocket URL and the tickets handed out.
    pub(crate) ws: ws::Endpoint,
    /// Web-app logins: codes handed to browsers and the user tokens they became.
    pub(crate) logins: crate::routes::authen::Logins,
}

impl State {
    pub(crate) fn new(config: SimConfig) -> Self {
        let mut state = Self {
            app_id: config.app_id,
            app_secret: config.app_secret,
            tenant_key: config.tenant_key,
            bot_open_id: ids::open_id(),
            bot_union_id: ids::union_id(),
            limits: Limits {
                monthly_quota: config.monthly_quota,
                per_sec: config.app_rate_per_sec,
                per_min: config.app_rate_per_min,
                per_target_qps: config.per_target_qps,
            },
            external_chats: config.external_chats,
            clock_offset: TimeDelta::zero(),
            users: Vec::new(),
            tokens: Vec::new(),
            tokens_issued: 0,
            chats: Vec::new(),
            chat_index: HashMap::new(),
            chat_uuids: HashMap::new(),
            p2p_chats: HashMap::new(),
            messages: Vec::new(),
            message_index: HashMap::new(),
            message_uuids: HashMap::new(),
            calls_total: 0,
            calls_by_route: BTreeMap::new(),
            quota: Quota::new(Utc::now()),
            rates: RateLimits::default(),
            faults: Faults::default(),
            subscription: None,
            pushes: Pushes::default(),
            ws: ws::Endpoint::new(config.client_config),
            logins: crate::routes::authen::Logins::default(),
        };
        for user in config.users {
            state.add_user(user);
        }
        state
    }

    pub(crate) fn now(&self) -> DateTime<Utc> {
        Utc::now() + self.clock_offset
    }

    pub(crate) fn now_ms(&self) -> i64 {
        self.now().timestamp_millis()
    }

    pub(crate) fn advance_clock(&mut self, by: TimeDelta) {
        self.clock_offset += by;
    }

    /// Puts the sim clock at `at` (backwards too: this is for tests).
    pub(crate) fn set_now(&mut self, at: DateTime<Utc>) {
        self.clock_offset = at - Utc::now();
    }

    pub(crate) fn update_limits(&mut self, update: &LimitsUpdate) {
        let limits = &mut self.limits;
        limits.monthly_quota = update.monthly_quota.unwrap_or(limits.monthly_quota);
        limits.per_sec = update.app_rate_per_sec.unwrap_or(limits.per_sec);
        limits.per_min = update.app_rate_per_min.unwrap_or(limits.per_min);
        limits.per_target_qps = update.per_target_qps.unwrap_or(limits.per_target_qps);
    }

    pub(crate) fn add_user(&mut self, user: SimUser) -> SimUserInfo {
        let info = SimUserInfo {
            name: user.name,
            email: user.email,
            mobile: user.mobile,
            open_id: ids::open_id(),
            union_id: ids::union_id(),
            user_id: ids::user_id(),
        };
        self.users.push(info.clone());
        info
    }

    /// Looks a user up by `open_id`, `union_id`, `user_id` or `email`.
    pub(crate) fn find_user(&self, id_type: &str, id: &str) -> Option<&SimUserInfo> {
        self.users.iter().find(|u| match id_type {
            "open_id" => u.open_id == id,
            "union_id" => u.union_id == id,
            "user_id" => u.user_id == id,
            "email" => u.email.as_deref() == Some(id),
            _ => false,
        })
    }

    pub(crate) fn user_by_open_id(&self, open_id: &str) -> Option<&SimUserInfo> {
        self.find_user("open_id", open_id)
    }

    /// A usable tenant token: issued here, not revoked, not expired on the sim clock.
    pub(crate) fn is_valid_tenant_token(&self, value: &str) -> bool {
        let now = self.now_ms();
        self.tokens.iter().any(|t| t.value == value && t.kind == TokenKind::Tenant && !t.revoked && t.expires_ms > now)
    }

    pub(crate) fn chat_index(&self, chat_id: &str) -> Option<usize> {
        self.chat_index.get(chat_id).copied()
    }

    pub(crate) fn insert_chat(&mut self, chat: Chat) -> usize {
        let index = self.chats.len();
        self.chat_index.insert(chat.chat_id.clone(), index);
        self.chats.push(chat);
        index
    }

    /// The bot's one-to-one chat with a user, opened on first use.
    pub(crate) fn p2p_chat(&mut self, open_id: &str) -> usize {
        if let Some(index) = self.p2p_chats.get(open_id) {
            return *index;
        }
        let mut chat = Chat {
            chat_id: ids::chat_id(),
            name: String::new(),
            description: String::new(),
            owner: Owner::Bot,
            disbanded: false,
            members: vec![open_id.to_owned()],
            bot_member: true,
            bot_manager: false,
            p2p: true,
            created_by_bot: true,
            uuid: None,
            settings: default_chat_settings(),
        };
        chat.settings.insert("chat_mode".to_owned(), json!("p2p"));
        let index = self.insert_chat(chat);
        self.p2p_chats.insert(open_id.to_owned(), index);
        index
    }

    pub(crate) fn message_index(&self, message_id: &str) -> Option<usize> {
        self.message_index.get(message_id).copied()
    }

    pub(crate) fn insert_message(&mut self, message: Message) -> usize {
        let index = self.messages.len();
        self.message_index.insert(message.message_id.clone(), index);
        if let Some(uuid) = &message.uuid {
            self.message_uuids.insert(uuid.clone(), index);
        }
        self.messages.push(message);
        index
    }

    /// Forgets chats, messages, counters, faults and pushes; users, credentials, tokens, the clock
    /// and the subscription stay.
    pub(crate) fn reset(&mut self) {
        self.chats.clear();
        self.chat_index.clear();
        self.chat_uuids.clear();
        self.p2p_chats.clear();
        self.messages.clear();
        self.message_index.clear();
        self.message_uuids.clear();
        self.calls_total = 0;
        self.calls_by_route.clear();
        self.tokens_issued = 0;
        self.quota = Quota::new(self.now());
        self.rates.clear();
        self.faults.clear();
        self.pushes.clear();
    }

    pub(crate) fn snapshot(&mut self) -> Snapshot {
        let now = self.now();
        let billed = self.quota.billed(now);
        Snapshot {
            chats: self.chats.iter().map(|c| self.chat_snapshot(c)).collect(),
            messages: self.messages.iter().map(|m| self.message_snapshot(m)).collect(),
            calls: CallStats { total: self.calls_total, billed, by_route: self.calls_by_route.clone() },
            tokens_issued: self.tokens_issued,
            users: self.users.clone(),
            now_ms: now.timestamp_millis(),
        }
    }

    fn chat_snapshot(&self, chat: &Chat) -> ChatSnapshot {
        ChatSnapshot {
            chat_id: chat.chat_id.clone(),
            name: chat.name.clone(),
            description: chat.description.clone(),
            owner_id: match &chat.owner {
                Owner::Bot => self.app_id.clone(),
                Owner::User(open_id) => open_id.clone(),
            },
            external: chat.settings.get("external").and_then(Value::as_bool).unwrap_or(false),
            disbanded: chat.disbanded,
            members: chat.members.clone(),
            bot_member: chat.bot_member,
            p2p: chat.p2p,
            uuid: chat.uuid.clone(),
        }
    }

    fn message_snapshot(&self, m: &Message) -> MessageSnapshot {
        let (sender_type, sender_id) = match &m.sender {
            Sender::App => ("app", self.app_id.clone()),
            Sender::User(open_id) => ("user", open_id.clone()),
        };
        MessageSnapshot {
            message_id: m.message_id.clone(),
            chat_id: m.chat_id.clone(),
            receive_id_type: m.receive_id_type.clone(),
            receive_id: m.receive_id.clone(),
            msg_type: m.msg_type.clone(),
            content: m.content.clone(),
            uuid: m.uuid.clone(),
            root_id: m.root_id.clone(),
            parent_id: m.parent_id.clone(),
            create_time: m.create_ms.to_string(),
            update_count: u32::try_from(m.updates.len()).unwrap_or(u32::MAX),
            updates: m.updates.clone(),
            sender_type: sender_type.to_owned(),
            sender_id,
        }
    }
}

/// What a new group chat is set to unless its creator says otherwise.
pub(crate) fn default_chat_settings() -> Map<String, Value> {
    let all = json!("all_members");
    let settings = json!({
        "avatar": "https://sim.invalid/avatar/chat.png",
        "i18n_names": {},
        "add_member_permission": all,
        "share_card_permission": "allowed",
        "at_all_permission": all,
        "edit_permission": all,
        "urgent_setting": all,
        "video_conference_setting": all,
        "pin_manage_setting": all,
        "group_message_type": "chat",
        "chat_mode": "group",
        "chat_type": "private",
        "chat_tag": "inner",
        "join_message_visibility": all,
        "leave_message_visibility": all,
        "membership_approval": "no_approval_required",
        "moderation_permission": all,
        "labels": [],
        "toolkit_ids": [],
        "restricted_mode_setting": {
            "status": false,
            "screenshot_has_permission_setting": all,
            "download_has_permission_setting": all,
            "message_has_permission_setting": all,
        },
        "hide_member_count_setting": all,
    });
    match settings {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

/// The shared state, built once and handed to every actix worker, and the machinery that pushes
/// events to the app.
#[derive(Debug)]
pub(crate) struct Sim {
    state: std::sync::Mutex<State>,
    pub(crate) push: Pusher,
}

impl Sim {
    pub(crate) fn new(state: State, push: Pusher) -> Self {
        Self { state: std::sync::Mutex::new(state), push }
    }

    /// A panicking handler must not take the whole simulator down with a poisoned lock.
    pub(crate) fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
