//! What people do in the Lark client: write messages, click card buttons, join, leave and disband
//! chats. Each changes the state as the client would and emits the event Lark pushes for it;
//! [`user_says`] and [`click`] also deliver it and wait for the first answer.

use std::sync::Arc;
use std::time::Instant;

use anyhow::{anyhow, ensure};
use serde_json::{Value, json};

use crate::events::{
    CARD_ACTION, CardAnswer, Click, MESSAGE_RECEIVED, Pushed, Say, TimeUnit, USERS_ADDED, USERS_DELETED,
};
use crate::ids;
use crate::mentions;
use crate::push;
use crate::routes::bot::BOT_NAME;
use crate::state::{Message, Owner, Sender, Sim, State};

/// Stores the message, pushes its event if the bot may receive it, and waits for the first attempt.
pub(crate) async fn user_says(sim: &Arc<Sim>, message: &Say) -> anyhow::Result<Pushed> {
    let said = say(&mut sim.lock(), message)?;
    let first_status = match &said.event_id {
        Some(event_id) => push::deliver(sim, event_id).await.status,
        None => None,
    };
    Ok(Pushed {
        event_id: said.event_id.unwrap_or_default(),
        message_id: said.message_id,
        chat_id: said.chat_id,
        first_status,
    })
}

/// Calls the app back for a click and returns its answer; a `card` in it replaces the card.
pub(crate) async fn click(sim: &Arc<Sim>, action: &Click) -> anyhow::Result<CardAnswer> {
    let event_id = record_click(&mut sim.lock(), action)?;
    let started = Instant::now();
    let outcome = push::attempt(sim, &event_id).await;
    let elapsed = started.elapsed();
    let status = outcome.status.ok_or_else(|| anyhow!("the card callback was not answered: {:?}", outcome.error))?;
    let body = outcome.answer.unwrap_or(Value::Null);
    if status == 200 {
        apply_card_answer(&mut sim.lock(), &action.message_id, &body);
    }
    Ok(CardAnswer { status, body, elapsed })
}

/// A stored user message and the event it caused, if any.
#[derive(Debug)]
struct Said {
    message_id: String,
    chat_id: String,
    event_id: Option<String>,
}

/// Stores the message and emits `im.message.receive_v1` when the bot may receive it: always in the
/// p2p chat; in a group only when the bot is a member and @-mentioned (the `group_at_msg` scope;
/// the simulator does not grant the sensitive all-group-messages scope).
fn say(st: &mut State, say: &Say) -> anyhow::Result<Said> {
    let sender =
        st.user_by_open_id(&say.from_open_id).cloned().ok_or_else(|| anyhow!("unknown user {}", say.from_open_id))?;
    let chat = match &say.chat_id {
        None => st.p2p_chat(&sender.open_id),
        Some(chat_id) => {
            let index = st.chat_index(chat_id).ok_or_else(|| anyhow!("unknown chat {chat_id}"))?;
            let chat = &st.chats[index];
            ensure!(!chat.disbanded, "chat {chat_id} was disbanded");
            ensure!(chat.members.contains(&sender.open_id), "{} is not a member of chat {chat_id}", sender.open_id);
            index
        }
    };
    // Stored the way the API stores text (tags, not keys), so snapshots read alike for both senders.
    let typed = if say.mention_bot {
        format!("<at user_id=\"{}\">{BOT_NAME}</at> {}", st.bot_open_id, say.text)
    } else {
        say.text.clone()
    };
    let now = st.now_ms();
    let chat_id = st.chats[chat].chat_id.clone();
    let message_id = ids::message_id();
    st.insert_message(Message {
        message_id: message_id.clone(),
        chat_id: chat_id.clone(),
        receive_id_type: "chat_id".to_owned(),
        receive_id: chat_id.clone(),
        msg_type: "text".to_owned(),
        content: json!({"text": typed}).to_string(),
        uuid: None,
        root_id: None,
        parent_id: None,
        thread_id: None,
        sender: Sender::User(sender.open_id.clone()),
        create_ms: now,
        update_ms: now,
        updates: Vec::new(),
    });
    let (text, found) = mentions::extract(&typed);
    let mentions_bot = found.iter().any(|m| m.id == st.bot_open_id);
    let (p2p, bot_member) = (st.chats[chat].p2p, st.chats[chat].bot_member);
    if !(bot_member && (p2p || mentions_bot)) {
        return Ok(Said { message_id, chat_id, event_id: None });
    }
    let mentions: Vec<Value> = found
        .iter()
        .map(|m| {
            let user = st.user_by_open_id(&m.id).or_else(|| st.find_user("user_id", &m.id));
            let (ids, name) = match user {
                Some(user) => (State::user_ids(user), user.name.as_str()),
                None if m.id == st.bot_open_id => (st.bot_ids(), BOT_NAME),
                None => (st.operator_ids(&m.id), m.name.as_str()),
            };
            json!({"key": m.key, "id": ids, "name": name, "tenant_key": st.tenant_key})
        })
        .collect();
    let mut message = json!({
        "message_id": message_id,
        "create_time": now.to_string(),
        "update_time": now.to_string(),
        "chat_id": chat_id,
        "chat_type": if p2p { "p2p" } else { "group" },
        "message_type": "text",
        "content": json!({"text": text}).to_string(),
    });
    if !mentions.is_empty() {
        message["mentions"] = Value::Array(mentions);
    }
    let event = json!({
        "sender": {"sender_id": State::user_ids(&sender), "sender_type": "user", "tenant_key": st.tenant_key},
        "message": message,
    });
    let event_id = st.emit(MESSAGE_RECEIVED, event, TimeUnit::Millis);
    Ok(Said { message_id, chat_id, event_id })
}

/// Records the `card.action.trigger` callback of a click on a card the bot sent.
fn record_click(st: &mut State, click: &Click) -> anyhow::Result<String> {
    let user = st
        .user_by_open_id(&click.operator_open_id)
        .cloned()
        .ok_or_else(|| anyhow!("unknown user {}", click.operator_open_id))?;
    let index = st.message_index(&click.message_id).ok_or_else(|| anyhow!("unknown message {}", click.message_id))?;
    let message = &st.messages[index];
    ensure!(
        message.msg_type == "interactive" && message.sender == Sender::App,
        "message {} is not a card the bot sent",
        click.message_id
    );
    let chat = st.chat_index(&message.chat_id).map(|c| &st.chats[c]);
    let chat = chat.ok_or_else(|| anyhow!("the card's chat is gone"))?;
    ensure!(!chat.disbanded, "chat {} was disbanded", chat.chat_id);
    ensure!(chat.members.contains(&user.open_id), "{} cannot see the card: not in chat {}", user.open_id, chat.chat_id);
    let mut action = json!({"value": click.value, "tag": "button"});
    if let Some(form_value) = &click.form_value {
        action["form_value"] = form_value.clone();
    }
    let event = json!({
        "operator": {"tenant_key": st.tenant_key, "user_id": user.user_id, "open_id": user.open_id, "union_id": user.union_id},
        "token": ids::card_token(),
        "action": action,
        "host": "im_message",
        "context": {"open_message_id": click.message_id, "open_chat_id": chat.chat_id},
    });
    st.emit(CARD_ACTION, event, TimeUnit::Micros).ok_or_else(|| anyhow!("the app has no subscription to call back"))
}

/// A callback answer with `card` replaces the card, as the client shows it (spec §5.3).
fn apply_card_answer(st: &mut State, message_id: &str, answer: &Value) {
    let Some(card) = answer.get("card") else { return };
    let content = match card.get("type").and_then(Value::as_str) {
        Some("raw") => card.get("data").map(Value::to_string),
        Some("template") => Some(card.to_string()),
        _ => None,
    };
    let now = st.now_ms();
    if let (Some(content), Some(index)) = (content, st.message_index(message_id)) {
        let message = &mut st.messages[index];
        message.content.clone_from(&content);
        message.updates.push(content);
        message.update_ms = now;
    }
}

/// Users join chat `index` by themselves (callers checked the ids): one
/// `im.chat.member.user.added_v1` per person, who is also its operator.
pub(crate) fn join(st: &mut State, index: usize, open_ids: &[String]) {
    for open_id in open_ids {
        if !st.chats[index].members.contains(open_id) {
            st.chats[index].members.push(open_id.clone());
            st.emit_members_changed(USERS_ADDED, index, open_id, std::slice::from_ref(open_id));
        }
    }
}

/// A member leaves; the owner cannot until the chat is handed over, as in the client.
pub(crate) fn leave(st: &mut State, chat_id: &str, open_id: &str) -> bool {
    let Some(index) = st.chat_index(chat_id) else { return false };
    let chat = &mut st.chats[index];
    let is_owner = chat.owner == Owner::User(open_id.to_owned());
    if chat.disbanded || chat.p2p || is_owner || !chat.members.iter().any(|m| m == open_id) {
        return false;
    }
    chat.members.retain(|m| m != open_id);
    st.emit_members_changed(USERS_DELETED, index, open_id, &[open_id.to_owned()]);
    true
}

/// A member disbands a group chat (ownership is not checked).
pub(crate) fn disband(st: &mut State, chat_id: &str, operator_open_id: &str) -> bool {
    let Some(index) = st.chat_index(chat_id) else { return false };
    let chat = &mut st.chats[index];
    if chat.disbanded || chat.p2p || !chat.members.iter().any(|m| m == operator_open_id) {
        return false;
    }
    chat.disbanded = true;
    st.emit_disbanded(index, operator_open_id);
    true
}
