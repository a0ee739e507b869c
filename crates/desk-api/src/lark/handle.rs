//! What each event does, by type. Every handler returns a short outcome for the inbox
//! record; failures say whether a retry can help.

use desk_core::Integration;
use desk_core::notify::{Happening, NotificationBody, NotifyClass, Recipient};
use desk_store::{ChatMember, ClaimedEvent, MemberChange, NotificationRequest, StoreError};
use lark_notify::LarkError;
use lark_notify::dispatch::LaneError;
use lark_notify::event_bodies::{
    CARD_ACTION, CHAT_DISBANDED, CardAction, ChatDisbanded, MEMBER_ADDED, MEMBER_DELETED, MESSAGE_RECEIVE,
    MembersChanged, MessageReceived,
};
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::inbound::Inbound;
use super::{actions, chat};

/// Why handling failed.
#[derive(Debug, thiserror::Error)]
pub enum HandleError {
    /// The database; a retry may help.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Lark; a retry may help.
    #[error("Lark: {0}")]
    Lark(String),
    /// The event itself cannot be handled; retrying cannot help.
    #[error("{0}")]
    Malformed(String),
}

impl HandleError {
    pub(super) fn lark(e: LarkError) -> Self {
        Self::Lark(e.to_string())
    }

    pub(super) fn lane(e: LaneError) -> Self {
        match e {
            LaneError::Store(s) => Self::Store(s),
            LaneError::Lark(l) => Self::lark(l),
        }
    }
}

/// The `event` object of a stored envelope, typed.
fn body<T: DeserializeOwned>(stored: &Value) -> Result<T, HandleError> {
    serde_json::from_value(stored["event"].clone())
        .map_err(|e| HandleError::Malformed(format!("unexpected {} body: {e}", stored["event_type"])))
}

/// Handles one event from the inbox.
pub(super) async fn event(inbound: &Inbound, ev: &ClaimedEvent) -> Result<String, HandleError> {
    let stored: Value = serde_json::from_str(&ev.body).map_err(|e| HandleError::Malformed(e.to_string()))?;
    let integration = inbound.store.integration(&ev.integration_id).await?;
    let origin = stored["event_id"].as_str().unwrap_or_default().to_owned();
    match ev.event_type.as_str() {
        MESSAGE_RECEIVE => chat::on_message(inbound, &integration, &origin, body::<MessageReceived>(&stored)?).await,
        MEMBER_ADDED => members(inbound, &integration, MemberChange::Added, body(&stored)?).await,
        MEMBER_DELETED => members(inbound, &integration, MemberChange::Removed, body(&stored)?).await,
        CHAT_DISBANDED => disbanded(inbound, &integration, body(&stored)?).await,
        // A callback whose answer never reached Lark (the process died): do the work anyway.
        CARD_ACTION => card_action(inbound, &integration, &origin, &stored["event"]).await.map(|(_, outcome)| outcome),
        other => {
            inbound.metrics.record_lark_event(other, "unknown");
            Ok(format!("ignored: the desk does not act on {other}"))
        }
    }
}

/// Handles a card callback; returns Lark's answer and the outcome to record.
pub(super) async fn card_action(
    inbound: &Inbound,
    integration: &Integration,
    origin: &str,
    event: &Value,
) -> Result<(Value, String), HandleError> {
    let action: CardAction = serde_json::from_value(event.clone())
        .map_err(|e| HandleError::Malformed(format!("unexpected card.action.trigger body: {e}")))?;
    actions::answer(inbound, integration, origin, &action).await
}

async fn members(
    inbound: &Inbound,
    integration: &Integration,
    change: MemberChange,
    e: MembersChanged,
) -> Result<String, HandleError> {
    let now = inbound.clock.now();
    let Some(chat) = inbound.store.chat_by_lark_id(&integration.id, &e.chat_id, now).await? else {
        return Ok(format!("ignored: chat {} is not one the desk serves", e.chat_id));
    };
    let people: Vec<ChatMember> = e
        .users
        .into_iter()
        .filter_map(|u| {
            Some(ChatMember { open_id: u.user_id.open_id?, person_id: None, name: u.name, tenant_key: u.tenant_key })
        })
        .collect();
    // Recorded once, whoever tells first: the desk's own adds and removes were recorded
    // when it made them, so their echo changes nothing (and puts nothing on the timeline).
    let operator = e.operator_id.and_then(|o| o.open_id);
    let bot = inbound.known_bot(&integration.id).await.map(|b| b.open_id);
    let changed = group_manager::members::record_lark_change(
        &inbound.store,
        &chat,
        change,
        &people,
        operator.as_deref(),
        bot.as_deref(),
        now,
    )
    .await?;
    let verb = match change {
        MemberChange::Added => "joined",
        MemberChange::Removed => "left",
    };
    Ok(format!("{} {verb} chat {} ({} new to the desk)", people.len(), e.chat_id, changed.len()))
}

async fn disbanded(inbound: &Inbound, integration: &Integration, e: ChatDisbanded) -> Result<String, HandleError> {
    let now = inbound.clock.now();
    let Some(chat) = inbound.store.chat_by_lark_id(&integration.id, &e.chat_id, now).await? else {
        return Ok(format!("ignored: chat {} is not one the desk serves", e.chat_id));
    };
    if !inbound.store.mark_chat_gone(chat.row_id, now).await? {
        return Ok(format!("chat {} was already gone", e.chat_id));
    }
    let org = inbound.store.org(chat.org_id).await?;
    let Some(tam) = org.tam_id else {
        return Ok(format!("chat {} marked gone; the organisation has no TAM to tell", e.chat_id));
    };
    let body = NotificationBody {
        ticket: None,
        happening: Happening::ChatDisbanded { chat: e.name.unwrap_or(chat.name) },
        actor: "Lark".to_owned(),
        at: now,
    };
    let req =
        NotificationRequest { org_id: org.id, recipient: Recipient::Person(tam), class: NotifyClass::Action, body };
    inbound.store.enqueue_notification(req, now).await?;
    Ok(format!("chat {} marked gone; TAM told", e.chat_id))
}
