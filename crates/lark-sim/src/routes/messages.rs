//! `im/v1/messages`: send, reply and PATCH of shared cards.

use serde_json::{Map, Value, json};

use crate::call::{Call, str_field};
use crate::envelope::Reply;
use crate::ids;
use crate::mentions;
use crate::state::{Message, Sender, State};

const INVALID: i64 = 230_001;
const NOT_IN_CHAT: i64 = 230_002;
const RATE_LIMITED: i64 = 230_020;
const TOO_LONG: i64 = 230_025;
const TOO_OLD: i64 = 230_031;
const BAD_RECEIVER: i64 = 230_034;
const CARD_FAILED: i64 = 230_099;
const DISSOLVED: i64 = 232_009;

const RECEIVE_ID_TYPES: &[&str] = &["open_id", "union_id", "user_id", "email", "chat_id"];
const MSG_TYPES: &[&str] = &[
    "text",
    "post",
    "image",
    "file",
    "audio",
    "media",
    "sticker",
    "interactive",
    "share_chat",
    "share_user",
    "system",
];
const TEXT_LIMIT: usize = 150 * 1024;
const CARD_LIMIT: usize = 30 * 1024;
const MAX_UUID_CHARS: usize = 50;
const UUID_WINDOW_MS: i64 = 3600 * 1000;
const PATCH_WINDOW_MS: i64 = 14 * 24 * 3600 * 1000;

/// A validated message body (send and reply share it).
#[derive(Debug)]
struct Draft {
    msg_type: String,
    content: String,
    uuid: Option<String>,
}

/// Where a new message goes and how it was addressed.
#[derive(Debug)]
struct Target {
    chat: usize,
    receive_id_type: String,
    receive_id: String,
    root_id: Option<String>,
    parent_id: Option<String>,
    thread_id: Option<String>,
}

pub(crate) fn send(st: &mut State, call: &Call<'_>) -> Reply {
    match try_send(st, call) {
        Ok(reply) | Err(reply) => reply,
    }
}

fn try_send(st: &mut State, call: &Call<'_>) -> Result<Reply, Reply> {
    let id_type = call.query("receive_id_type").ok_or_else(|| invalid("receive_id_type is required"))?;
    if !RECEIVE_ID_TYPES.contains(&id_type) {
        return Err(invalid("receive_id_type must be open_id, union_id, user_id, email or chat_id"));
    }
    let body = call.object(INVALID)?;
    let receive_id = str_field(&body, "receive_id").ok_or_else(|| invalid("receive_id is required"))?;
    let draft = parse_draft(&body)?;
    if let Some(first) = recent_by_uuid(st, draft.uuid.as_deref()) {
        return Ok(Reply::ok(message_json(st, &st.messages[first])));
    }
    let chat = if id_type == "chat_id" {
        st.chat_index(receive_id).ok_or_else(|| bad_receiver(receive_id))?
    } else {
        let open_id = st.find_user(id_type, receive_id).ok_or_else(|| bad_receiver(receive_id))?.open_id.clone();
        st.p2p_chat(&open_id)
    };
    let target = Target {
        chat,
        receive_id_type: id_type.to_owned(),
        receive_id: receive_id.to_owned(),
        root_id: None,
        parent_id: None,
        thread_id: None,
    };
    deliver(st, target, draft)
}

pub(crate) fn reply(st: &mut State, call: &Call<'_>) -> Reply {
    match try_reply(st, call) {
        Ok(reply) | Err(reply) => reply,
    }
}

fn try_reply(st: &mut State, call: &Call<'_>) -> Result<Reply, Reply> {
    let body = call.object(INVALID)?;
    let draft = parse_draft(&body)?;
    let in_thread = match body.get("reply_in_thread") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(invalid("reply_in_thread must be a boolean")),
    };
    let parent_id = call.param("message_id");
    let parent = st.message_index(parent_id).ok_or_else(|| unknown_message(parent_id))?;
    if let Some(first) = recent_by_uuid(st, draft.uuid.as_deref()) {
        return Ok(Reply::ok(message_json(st, &st.messages[first])));
    }
    let parent_msg = &st.messages[parent];
    let chat = st.chat_index(&parent_msg.chat_id).ok_or_else(|| unknown_message(parent_id))?;
    let thread_id = (in_thread || parent_msg.thread_id.is_some())
        .then(|| parent_msg.thread_id.clone().unwrap_or_else(ids::thread_id));
    let target = Target {
        chat,
        receive_id_type: "message_id".to_owned(),
        receive_id: parent_id.to_owned(),
        root_id: Some(parent_msg.root_id.clone().unwrap_or_else(|| parent_id.to_owned())),
        parent_id: Some(parent_id.to_owned()),
        thread_id: thread_id.clone(),
    };
    let reply = deliver(st, target, draft)?;
    // A thread opened by this reply also claims the message it hangs off.
    if st.messages[parent].thread_id.is_none() {
        st.messages[parent].thread_id = thread_id;
    }
    Ok(reply)
}

/// The checks every new message passes in the target chat, then the message itself.
fn deliver(st: &mut State, target: Target, draft: Draft) -> Result<Reply, Reply> {
    let chat = &st.chats[target.chat];
    if chat.disbanded {
        return Err(Reply::error(DISSOLVED, "The chat has been dissolved."));
    }
    if !chat.bot_member {
        return Err(Reply::error(NOT_IN_CHAT, "Bot/User can NOT be out of the chat."));
    }
    let chat_id = chat.chat_id.clone();
    let qps = st.limits.per_target_qps;
    if !st.rates.admit_target(&chat_id, qps) {
        return Err(Reply::error(RATE_LIMITED, "The message sending frequency to the target exceeds the limit."));
    }
    let now = st.now_ms();
    let message = Message {
        message_id: ids::message_id(),
        chat_id,
        receive_id_type: target.receive_id_type,
        receive_id: target.receive_id,
        msg_type: draft.msg_type,
        content: draft.content,
        uuid: draft.uuid,
        root_id: target.root_id,
        parent_id: target.parent_id,
        thread_id: target.thread_id,
        sender: Sender::App,
        create_ms: now,
        update_ms: now,
        updates: Vec::new(),
    };
    let index = st.insert_message(message);
    Ok(Reply::ok(message_json(st, &st.messages[index])))
}

pub(crate) fn update_card(st: &mut State, call: &Call<'_>) -> Reply {
    match try_update_card(st, call) {
        Ok(reply) | Err(reply) => reply,
    }
}

fn try_update_card(st: &mut State, call: &Call<'_>) -> Result<Reply, Reply> {
    let body = call.object(INVALID)?;
    let content = match body.get("content") {
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        Some(Value::String(_)) | Some(Value::Null) | None => return Err(invalid("content is required")),
        Some(_) => return Err(invalid("content must be a string holding the card JSON")),
    };
    let message_id = call.param("message_id");
    let index = st.message_index(message_id).ok_or_else(|| unknown_message(message_id))?;
    let message = &st.messages[index];
    if message.msg_type != "interactive" {
        return Err(invalid("only interactive (card) messages can be updated"));
    }
    let current: Value = serde_json::from_str(&message.content).unwrap_or(Value::Null);
    if !is_shared_card(&current) {
        return Err(invalid("only shared cards (config.update_multi: true or schema 2.0) can be updated"));
    }
    let now = st.now_ms();
    if now - message.create_ms > PATCH_WINDOW_MS {
        return Err(Reply::error(TOO_OLD, "The message was sent more than 14 days ago and can no longer be updated."));
    }
    let chat_gone = st.chat_index(&message.chat_id).is_none_or(|c| st.chats[c].disbanded);
    if chat_gone {
        return Err(Reply::error(DISSOLVED, "The chat has been dissolved."));
    }
    if content.len() > CARD_LIMIT {
        return Err(too_long());
    }
    let card = parse_card(&content)?;
    if !is_shared_card(&card) {
        return Err(invalid("the new card must be shared too (config.update_multi: true or schema 2.0)"));
    }
    let qps = st.limits.per_target_qps;
    if !st.rates.admit_target(&format!("message:{message_id}"), qps) {
        return Err(Reply::error(RATE_LIMITED, "The message update frequency exceeds the limit."));
    }
    let message = &mut st.messages[index];
    message.content = content.clone();
    message.updates.push(content);
    message.update_ms = now;
    Ok(Reply::ok_msg("ok", json!({})))
}

fn parse_draft(body: &Map<String, Value>) -> Result<Draft, Reply> {
    let msg_type = str_field(body, "msg_type").ok_or_else(|| invalid("msg_type is required"))?;
    if !MSG_TYPES.contains(&msg_type) {
        return Err(invalid(format!("unsupported msg_type {msg_type}")));
    }
    let content = match body.get("content") {
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        Some(Value::String(_)) | Some(Value::Null) | None => return Err(invalid("content is required")),
        Some(_) => return Err(invalid("content must be a string of serialized JSON, not a JSON value")),
    };
    let uuid = match body.get("uuid") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.is_empty() => None,
        Some(Value::String(s)) if s.chars().count() <= MAX_UUID_CHARS => Some(s.clone()),
        Some(_) => return Err(invalid("uuid must be a string of at most 50 characters")),
    };
    check_content(msg_type, &content)?;
    Ok(Draft { msg_type: msg_type.to_owned(), content, uuid })
}

fn check_content(msg_type: &str, content: &str) -> Result<(), Reply> {
    let limit = if matches!(msg_type, "post" | "interactive") { CARD_LIMIT } else { TEXT_LIMIT };
    if content.len() > limit {
        return Err(too_long());
    }
    if msg_type == "interactive" {
        return parse_card(content).map(drop);
    }
    let parsed: Value =
        serde_json::from_str(content).map_err(|_| invalid("content is not valid JSON for this msg_type"))?;
    let has_str = |key: &str| parsed.get(key).is_some_and(Value::is_string);
    let fits = match msg_type {
        "text" => has_str("text"),
        "image" => has_str("image_key"),
        "file" | "audio" | "media" | "sticker" => has_str("file_key"),
        "share_chat" => has_str("chat_id"),
        "share_user" => has_str("user_id"),
        _ => parsed.as_object().is_some_and(|o| !o.is_empty()),
    };
    if fits { Ok(()) } else { Err(invalid(format!("content does not fit msg_type {msg_type}"))) }
}

fn parse_card(content: &str) -> Result<Value, Reply> {
    let card: Value = serde_json::from_str(content).map_err(|_| {
        Reply::error(CARD_FAILED, "Failed to create card content, ext=ErrCode: 200621; ErrMsg: parse card json err")
    })?;
    if is_card(&card) {
        Ok(card)
    } else {
        Err(Reply::error(CARD_FAILED, "Failed to create card content, ext=ErrCode: 200621; ErrMsg: not a card"))
    }
}

/// An inline card (1.0 or 2.0), a CardKit reference or a builder template.
fn is_card(card: &Value) -> bool {
    let Some(obj) = card.as_object() else { return false };
    let data = |key: &str| card.get("data").and_then(|d| d.get(key)).is_some_and(Value::is_string);
    match obj.get("type").and_then(Value::as_str) {
        Some("card") => data("card_id"),
        Some("template") => data("template_id"),
        _ => ["elements", "i18n_elements", "body", "header", "i18n_header"].iter().any(|k| obj.contains_key(*k)),
    }
}

/// Schema 2.0 cards and CardKit entities are always shared; templates are given the benefit of the doubt.
fn is_shared_card(card: &Value) -> bool {
    card.get("schema").and_then(Value::as_str) == Some("2.0")
        || card.pointer("/config/update_multi").and_then(Value::as_bool) == Some(true)
        || matches!(card.get("type").and_then(Value::as_str), Some("card" | "template"))
}

fn recent_by_uuid(st: &State, uuid: Option<&str>) -> Option<usize> {
    let index = *st.message_uuids.get(uuid?)?;
    (st.now_ms() - st.messages[index].create_ms < UUID_WINDOW_MS).then_some(index)
}

fn invalid(why: impl std::fmt::Display) -> Reply {
    Reply::error(INVALID, format!("invalid param: {why}"))
}

fn too_long() -> Reply {
    Reply::error(TOO_LONG, "The message content is too long.")
}

fn bad_receiver(id: &str) -> Reply {
    Reply::error(BAD_RECEIVER, format!("invalid receive_id: {id}"))
}

fn unknown_message(id: &str) -> Reply {
    invalid(format!("message_id {id} not found"))
}

/// The message object Lark returns from send and reply.
fn message_json(st: &State, m: &Message) -> Value {
    let (content, mentions) = rendered(st, m);
    let mut v = json!({
        "message_id": m.message_id,
        "msg_type": m.msg_type,
        "create_time": m.create_ms.to_string(),
        "update_time": m.update_ms.to_string(),
        "deleted": false,
        "updated": !m.updates.is_empty(),
        "chat_id": m.chat_id,
        "sender": match &m.sender {
            Sender::App => json!({"id": st.app_id, "id_type": "app_id", "sender_type": "app", "tenant_key": st.tenant_key}),
            Sender::User(open_id) => json!({"id": open_id, "id_type": "open_id", "sender_type": "user", "tenant_key": st.tenant_key}),
        },
        "body": {"content": content},
    });
    for (key, value) in [("root_id", &m.root_id), ("parent_id", &m.parent_id), ("thread_id", &m.thread_id)] {
        if let Some(value) = value {
            v[key] = json!(value);
        }
    }
    if !mentions.is_empty() {
        v["mentions"] = Value::Array(mentions);
    }
    v
}

/// Lark stores `<at user_id="…">Name</at>` in text as `@_user_N` keys plus a `mentions` list.
fn rendered(st: &State, m: &Message) -> (String, Vec<Value>) {
    let text = (m.msg_type == "text")
        .then(|| serde_json::from_str::<Value>(&m.content).ok())
        .flatten()
        .and_then(|v| v.get("text").and_then(Value::as_str).map(str::to_owned));
    let Some(text) = text.filter(|t| t.contains("<at ")) else {
        return (m.content.clone(), Vec::new());
    };
    let (out, found) = mentions::extract(&text);
    let mentions = found
        .into_iter()
        .map(|mention| {
            let user = st.find_user("open_id", &mention.id).or_else(|| st.find_user("user_id", &mention.id));
            json!({
                "key": mention.key,
                "id": user.map_or(mention.id.as_str(), |u| u.open_id.as_str()),
                "id_type": "open_id",
                "name": user.map_or(mention.name.as_str(), |u| u.name.as_str()),
                "tenant_key": st.tenant_key,
            })
        })
        .collect();
    (json!({"text": out}).to_string(), mentions)
}
