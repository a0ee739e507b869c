//! What Lark pushes to the app: the subscription, the v2 envelope around every event and card
//! callback, and the record kept of each push.
//!
//! An event exists only while the app has a [`Subscription`]: Lark generates nothing for an app
//! that subscribed to nothing. Bodies are built once, when the event happens, and every delivery
//! attempt (retries and [`crate::SimHandle::redeliver`]) sends that same JSON again.

use std::collections::HashMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::config::SimUserInfo;
use crate::ids;
use crate::state::State;

/// `im.message.receive_v1`.
pub(crate) const MESSAGE_RECEIVED: &str = "im.message.receive_v1";
/// `im.chat.member.user.added_v1`.
pub(crate) const USERS_ADDED: &str = "im.chat.member.user.added_v1";
/// `im.chat.member.user.deleted_v1`.
pub(crate) const USERS_DELETED: &str = "im.chat.member.user.deleted_v1";
/// `im.chat.disbanded_v1`.
pub(crate) const CHAT_DISBANDED: &str = "im.chat.disbanded_v1";
/// `card.action.trigger`, the schema 2.0 card callback.
pub(crate) const CARD_ACTION: &str = "card.action.trigger";

/// How the app receives events and card callbacks: the subscription settings of the Lark console.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "snake_case")]
pub enum Subscription {
    /// Lark POSTs to the app's URLs (spec §6).
    Webhook {
        /// Where events go.
        events_url: String,
        /// Where `card.action.trigger` callbacks go.
        cards_url: String,
        /// Put in `header.token` of every body.
        verification_token: String,
        /// When set, bodies are `{"encrypt": …}` and `X-Lark-Signature` is keyed with it.
        #[serde(default)]
        encrypt_key: Option<String>,
    },
    /// The app holds WebSocket connections opened through `POST /callback/ws/endpoint` (spec §7).
    LongConnection {
        /// Put in `header.token` of every body (the SDKs do not check it on this path).
        verification_token: String,
    },
}

impl Subscription {
    fn verification_token(&self) -> &str {
        match self {
            Self::Webhook { verification_token, .. } | Self::LongConnection { verification_token } => {
                verification_token
            }
        }
    }
}

/// A directory user writes a text message (see [`crate::SimHandle::user_says`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Say {
    /// The writer's open_id.
    pub from_open_id: String,
    /// The group chat; `None` is the writer's p2p chat with the bot.
    #[serde(default)]
    pub chat_id: Option<String>,
    /// The text. Other people are mentioned as in the send API: `<at user_id="ou_…">Name</at>`.
    pub text: String,
    /// Put an @-mention of the bot in front of the text.
    #[serde(default)]
    pub mention_bot: bool,
}

/// What [`crate::SimHandle::user_says`] did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pushed {
    /// The `im.message.receive_v1` event, or empty when none was pushed (a group message that does
    /// not mention the bot, a chat without the bot, or no subscription).
    pub event_id: String,
    /// The stored message.
    pub message_id: String,
    /// The chat it was written in (for p2p, the same chat the bot's messages to that user land in).
    pub chat_id: String,
    /// HTTP status (webhook) or ack code (long connection) of the first delivery attempt; `None`
    /// when nothing answered: no event, no connection open, a refused connection or a timeout.
    pub first_status: Option<u16>,
}

/// A user clicks a callback button on a card the bot sent (see [`crate::SimHandle::click`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Click {
    /// Who clicked.
    pub operator_open_id: String,
    /// The card message.
    pub message_id: String,
    /// The button's callback `value`.
    pub value: Value,
    /// The form's values when the button submits a form.
    #[serde(default)]
    pub form_value: Option<Value>,
}

/// The app's synchronous answer to a card callback.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CardAnswer {
    /// HTTP status (webhook) or ack code (long connection).
    pub status: u16,
    /// The answer JSON (`{"toast":…,"card":…}`); `{}` when the app answered with an empty body or
    /// an ack without `data`, `null` when the body was not JSON.
    pub body: Value,
    /// How long the app took.
    #[serde(serialize_with = "millis")]
    pub elapsed: Duration,
}

fn millis<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u128(d.as_millis())
}

/// One pushed event or card callback, as [`crate::SimHandle::events`] reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EventRecord {
    /// `header.event_id`.
    pub event_id: String,
    /// `header.event_type`.
    pub event_type: String,
    /// The plaintext v2 body every attempt sends.
    pub body: Value,
    /// Delivery attempts so far, redeliveries included.
    pub attempts: u32,
    /// Some attempt was answered with HTTP 200 / ack code 200.
    pub delivered: bool,
    /// A redelivery is still scheduled.
    pub retry_pending: bool,
    /// HTTP status or ack code of the last attempt.
    pub last_status: Option<u16>,
    /// Why the last attempt failed (`None` after a success).
    pub last_error: Option<String>,
}

/// The simulator's own record of one push.
#[derive(Debug)]
pub(crate) struct PushRecord {
    pub(crate) event_id: String,
    pub(crate) event_type: String,
    pub(crate) body: String,
    pub(crate) attempts: u32,
    pub(crate) delivered: bool,
    pub(crate) retry_pending: bool,
    pub(crate) last_status: Option<u16>,
    pub(crate) last_error: Option<String>,
}

impl PushRecord {
    /// Card callbacks are answered synchronously and never retried (spec §5.3).
    pub(crate) fn is_callback(&self) -> bool {
        self.event_type == CARD_ACTION
    }

    fn public(&self) -> EventRecord {
        EventRecord {
            event_id: self.event_id.clone(),
            event_type: self.event_type.clone(),
            body: serde_json::from_str(&self.body).unwrap_or(Value::Null),
            attempts: self.attempts,
            delivered: self.delivered,
            retry_pending: self.retry_pending,
            last_status: self.last_status,
            last_error: self.last_error.clone(),
        }
    }
}

/// Every push so far, plus the ones generated by API calls that are not on their way yet.
#[derive(Debug, Default)]
pub(crate) struct Pushes {
    records: Vec<PushRecord>,
    index: HashMap<String, usize>,
    outbox: Vec<String>,
}

impl Pushes {
    pub(crate) fn get(&self, event_id: &str) -> Option<&PushRecord> {
        self.index.get(event_id).map(|i| &self.records[*i])
    }

    pub(crate) fn get_mut(&mut self, event_id: &str) -> Option<&mut PushRecord> {
        self.index.get(event_id).map(|i| &mut self.records[*i])
    }

    pub(crate) fn public(&self) -> Vec<EventRecord> {
        self.records.iter().map(PushRecord::public).collect()
    }

    /// Every event Lark owes the app has been acknowledged (callbacks are never owed twice).
    pub(crate) fn all_delivered(&self) -> bool {
        self.records.iter().all(|r| r.delivered || r.is_callback())
    }

    /// Events waiting for their first attempt, oldest first.
    pub(crate) fn take_outbox(&mut self) -> Vec<String> {
        std::mem::take(&mut self.outbox)
    }

    pub(crate) fn clear(&mut self) {
        *self = Self::default();
    }

    fn insert(&mut self, record: PushRecord) {
        self.index.insert(record.event_id.clone(), self.records.len());
        self.records.push(record);
    }
}

/// When the envelope's `create_time` is written in: IM events use milliseconds, card callbacks
/// microseconds (spec §6.6, §5.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TimeUnit {
    Millis,
    Micros,
}

impl State {
    /// Wraps `event` in the v2 envelope and records it, if the app has a subscription. The caller
    /// delivers it (`user_says`, `click`); see [`State::emit_queued`] for fire-and-forget events.
    pub(crate) fn emit(&mut self, event_type: &str, event: Value, unit: TimeUnit) -> Option<String> {
        let token = self.subscription.as_ref()?.verification_token().to_owned();
        let now = self.now();
        let create_time = match unit {
            TimeUnit::Millis => now.timestamp_millis(),
            TimeUnit::Micros => now.timestamp_micros(),
        };
        let event_id = ids::event_id();
        let body = json!({
            "schema": "2.0",
            "header": {
                "event_id": event_id,
                "token": token,
                "create_time": create_time.to_string(),
                "event_type": event_type,
                "tenant_key": self.tenant_key,
                "app_id": self.app_id,
            },
            "event": event,
        });
        self.pushes.insert(PushRecord {
            event_id: event_id.clone(),
            event_type: event_type.to_owned(),
            body: body.to_string(),
            attempts: 0,
            delivered: false,
            retry_pending: false,
            last_status: None,
            last_error: None,
        });
        Some(event_id)
    }

    /// [`State::emit`], then leaves the event for [`crate::push::start_queued`] to deliver once the
    /// state lock is released.
    pub(crate) fn emit_queued(&mut self, event_type: &str, event: Value) {
        if let Some(event_id) = self.emit(event_type, event, TimeUnit::Millis) {
            self.pushes.outbox.push(event_id);
        }
    }

    /// `{union_id, user_id, open_id}` of a user, as events write people.
    pub(crate) fn user_ids(user: &SimUserInfo) -> Value {
        json!({"union_id": user.union_id, "user_id": user.user_id, "open_id": user.open_id})
    }

    /// The bot as an operator or mention: it has an open_id and a union_id but no tenant user_id.
    pub(crate) fn bot_ids(&self) -> Value {
        json!({"union_id": self.bot_union_id, "user_id": "", "open_id": self.bot_open_id})
    }

    /// The ids of whoever did something: a directory user, or the bot when `open_id` is its own.
    pub(crate) fn operator_ids(&self, open_id: &str) -> Value {
        match self.user_by_open_id(open_id) {
            Some(user) => Self::user_ids(user),
            None if open_id == self.bot_open_id => self.bot_ids(),
            None => json!({"union_id": "", "user_id": "", "open_id": open_id}),
        }
    }

    /// Pushes `im.chat.member.user.{added,deleted}_v1` for `users` (open_ids) if the bot is in the chat.
    pub(crate) fn emit_members_changed(&mut self, event_type: &str, chat: usize, operator: &str, users: &[String]) {
        if users.is_empty() || !self.chats[chat].bot_member {
            return;
        }
        let users: Vec<Value> = users
            .iter()
            .map(|open_id| {
                let user = self.user_by_open_id(open_id);
                json!({
                    "name": user.map_or("", |u| u.name.as_str()),
                    "tenant_key": self.tenant_key,
                    "user_id": self.operator_ids(open_id),
                })
            })
            .collect();
        let mut event = self.chat_event(chat, operator);
        if let Value::Object(map) = &mut event {
            map.insert("users".to_owned(), Value::Array(users));
        }
        self.emit_queued(event_type, event);
    }

    /// Pushes `im.chat.disbanded_v1` if the bot was in the chat.
    pub(crate) fn emit_disbanded(&mut self, chat: usize, operator: &str) {
        if self.chats[chat].bot_member {
            let event = self.chat_event(chat, operator);
            self.emit_queued(CHAT_DISBANDED, event);
        }
    }

    /// The fields every chat lifecycle event shares (spec §6.6; key order as in the fixtures).
    fn chat_event(&self, chat: usize, operator: &str) -> Value {
        let chat = &self.chats[chat];
        let i18n_names = match chat.settings.get("i18n_names") {
            Some(Value::Object(names)) if !names.is_empty() => Value::Object(names.clone()),
            _ => json!({"zh_cn": "", "en_us": chat.name, "ja_jp": ""}),
        };
        json!({
            "chat_id": chat.chat_id,
            "operator_id": self.operator_ids(operator),
            "external": false,
            "operator_tenant_key": self.tenant_key,
            "name": chat.name,
            "i18n_names": i18n_names,
        })
    }
}
