//! Typed `event` objects of the events the desk subscribes to (lark-spec.md §5.3, §6.6),
//! and the answer to a card callback. Fields Lark may leave out are optional, so an
//! event with less than the docs show still parses.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// `im.message.receive_v1`.
pub const MESSAGE_RECEIVE: &str = "im.message.receive_v1";
/// `im.chat.member.user.added_v1`.
pub const MEMBER_ADDED: &str = "im.chat.member.user.added_v1";
/// `im.chat.member.user.deleted_v1`.
pub const MEMBER_DELETED: &str = "im.chat.member.user.deleted_v1";
/// `im.chat.disbanded_v1`.
pub const CHAT_DISBANDED: &str = "im.chat.disbanded_v1";
/// `card.action.trigger`.
pub const CARD_ACTION: &str = crate::events::CARD_ACTION_TRIGGER;

/// The ids of one user (which ones are present depends on the app's scopes).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserIds {
    /// Per-app id.
    #[serde(default)]
    pub open_id: Option<String>,
    /// Per-developer id.
    #[serde(default)]
    pub union_id: Option<String>,
    /// Per-tenant id (needs a scope).
    #[serde(default)]
    pub user_id: Option<String>,
}

/// `im.message.receive_v1`'s `event`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct MessageReceived {
    /// Who wrote it.
    pub sender: Sender,
    /// The message.
    pub message: ReceivedMessage,
}

/// The sender of a message.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Sender {
    /// Their ids.
    pub sender_id: UserIds,
    /// `user` (bots' own messages are not delivered).
    #[serde(default)]
    pub sender_type: Option<String>,
    /// Their tenant.
    #[serde(default)]
    pub tenant_key: Option<String>,
}

/// A received message.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ReceivedMessage {
    /// `om_…`: Lark's advice is to de-duplicate on it.
    pub message_id: String,
    /// `oc_…`.
    pub chat_id: String,
    /// `p2p` or `group`.
    pub chat_type: String,
    /// `text`, `post`, `image`, …
    pub message_type: String,
    /// The content, a JSON string.
    #[serde(default)]
    pub content: String,
    /// Who was @mentioned, in order (`@_user_1` is the first).
    #[serde(default)]
    pub mentions: Vec<Mention>,
}

/// One @mention in a message.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Mention {
    /// The placeholder in the text, `@_user_N`.
    pub key: String,
    /// Who (empty for @all).
    #[serde(default)]
    pub id: UserIds,
    /// Their display name.
    #[serde(default)]
    pub name: String,
}

impl ReceivedMessage {
    /// Whether this is a one-to-one chat with the bot.
    pub fn is_p2p(&self) -> bool {
        self.chat_type == "p2p"
    }

    /// Whether `open_id` was @mentioned.
    pub fn mentions(&self, open_id: &str) -> bool {
        self.mentions.iter().any(|m| m.id.open_id.as_deref() == Some(open_id))
    }

    /// The words of a text or rich-text (`post`) message, with the @mention of
    /// `without` (the bot) removed and every other placeholder replaced by `@Name`.
    /// `None` for messages without words (images, files, stickers).
    pub fn words(&self, without: Option<&str>) -> Option<String> {
        let content: Value = serde_json::from_str(&self.content).ok()?;
        let mut text = match self.message_type.as_str() {
            "text" => content["text"].as_str()?.to_owned(),
            "post" => post_words(&content),
            _ => return None,
        };
        // Longest keys first, so `@_user_1` never eats the start of `@_user_10`.
        let mut mentions: Vec<&Mention> = self.mentions.iter().collect();
        mentions.sort_by_key(|m| std::cmp::Reverse(m.key.len()));
        for m in mentions {
            let shown = if without.is_some() && m.id.open_id.as_deref() == without {
                String::new()
            } else if m.name.is_empty() {
                "@all".to_owned()
            } else {
                format!("@{}", m.name)
            };
            text = text.replace(&m.key, &shown);
        }
        Some(text.split_whitespace().collect::<Vec<_>>().join(" "))
    }
}

/// The text of a `post` (rich text): `{"title", "content": [[{"tag":"text","text":…}, …], …]}`,
/// possibly under a language key.
fn post_words(content: &Value) -> String {
    let body = if content.get("content").is_some() {
        content
    } else {
        content.as_object().and_then(|o| o.values().next()).unwrap_or(content)
    };
    let mut parts: Vec<String> = Vec::new();
    if let Some(title) = body["title"].as_str().filter(|t| !t.is_empty()) {
        parts.push(title.to_owned());
    }
    for line in body["content"].as_array().into_iter().flatten() {
        let words: Vec<&str> = line
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|el| match el["tag"].as_str() {
                Some("text" | "a") => el["text"].as_str(),
                Some("at") => el["user_id"].as_str(),
                _ => None,
            })
            .collect();
        parts.push(words.join(""));
    }
    parts.join("\n")
}

/// `im.chat.member.user.added_v1` / `…deleted_v1`'s `event`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct MembersChanged {
    /// The chat.
    pub chat_id: String,
    /// Who added or removed them (themselves when they joined or left).
    #[serde(default)]
    pub operator_id: Option<UserIds>,
    /// Whether the chat is external (two tenants).
    #[serde(default)]
    pub external: bool,
    /// Who joined or left.
    #[serde(default)]
    pub users: Vec<ChatUser>,
    /// The chat's name.
    #[serde(default)]
    pub name: Option<String>,
}

/// One user in a membership event.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ChatUser {
    /// Display name.
    #[serde(default)]
    pub name: String,
    /// Their tenant.
    #[serde(default)]
    pub tenant_key: Option<String>,
    /// Their ids.
    pub user_id: UserIds,
}

/// `im.chat.disbanded_v1`'s `event`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ChatDisbanded {
    /// The chat.
    pub chat_id: String,
    /// Who disbanded it.
    #[serde(default)]
    pub operator_id: Option<UserIds>,
    /// Its name.
    #[serde(default)]
    pub name: Option<String>,
}

/// `card.action.trigger`'s `event`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct CardAction {
    /// Who clicked.
    pub operator: CardOperator,
    /// `c-…`: the delayed-update credential (30 minutes).
    #[serde(default)]
    pub token: Option<String>,
    /// What was clicked.
    pub action: ActionTaken,
    /// Where the card is.
    #[serde(default)]
    pub context: Option<CardContext>,
}

/// The person who clicked.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct CardOperator {
    /// Their open_id.
    #[serde(default)]
    pub open_id: Option<String>,
    /// Their tenant.
    #[serde(default)]
    pub tenant_key: Option<String>,
}

/// The component acted on.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ActionTaken {
    /// The button's `value`, as we set it.
    #[serde(default)]
    pub value: Value,
    /// `button`, `select_static`, …
    #[serde(default)]
    pub tag: Option<String>,
    /// A form's inputs, by name, when the button submits a form.
    #[serde(default)]
    pub form_value: Option<Value>,
    /// An input's text.
    #[serde(default)]
    pub input_value: Option<String>,
    /// A select's choice.
    #[serde(default)]
    pub option: Option<String>,
}

/// Where the clicked card lives.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct CardContext {
    /// The card message.
    #[serde(default)]
    pub open_message_id: Option<String>,
    /// Its chat.
    #[serde(default)]
    pub open_chat_id: Option<String>,
}

/// How a toast looks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ToastKind {
    /// Neutral.
    Info,
    /// Done.
    Success,
    /// Refused or failed.
    Error,
    /// Done, with a caveat.
    Warning,
}

impl ToastKind {
    const fn as_str(self) -> &'static str {
        match self {
            Self::Info => "info",
            Self::Success => "success",
            Self::Error => "error",
            Self::Warning => "warning",
        }
    }
}

/// The synchronous answer to a card callback (§5.3): a toast, and the card to show
/// instead of the clicked one when something changed.
pub fn card_answer(kind: ToastKind, en: &str, zh: &str, shown: &str, card: Option<Value>) -> Value {
    let mut answer = json!({
        "toast": { "type": kind.as_str(), "content": shown, "i18n": { "en_us": en, "zh_cn": zh } }
    });
    if let Some(card) = card {
        answer["card"] = json!({ "type": "raw", "data": card });
    }
    answer
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Value {
        let all: Value =
            serde_json::from_str(include_str!("../tests/vectors/lark-vectors.json")).expect("vectors are JSON");
        all["fixtures"]["bodies"][name]["event"].clone()
    }

    #[test]
    fn the_p2p_fixture_reads_as_words_from_a_person() {
        let m: MessageReceived = serde_json::from_value(fixture("im.message.receive_v1.p2p")).unwrap();
        assert!(m.message.is_p2p());
        assert_eq!(m.sender.sender_id.open_id.as_deref(), Some("ou_0123456789abcdef0123456789abcdef"));
        assert_eq!(m.message.words(None).as_deref(), Some("VPN keeps dropping since this morning"));
    }

    #[test]
    fn the_bots_mention_is_removed_and_others_are_named() {
        let m: MessageReceived = serde_json::from_value(fixture("im.message.receive_v1.group_mentions")).unwrap();
        let bot = "ou_fedcba9876543210fedcba9876543210";
        assert!(m.message.mentions(bot));
        assert_eq!(m.message.words(Some(bot)).as_deref(), Some("please loop in @Alice Chen on this ticket"));
    }

    #[test]
    fn member_events_list_who_joined() {
        let e: MembersChanged = serde_json::from_value(fixture("im.chat.member.user.added_v1")).unwrap();
        assert_eq!(e.chat_id, "oc_0123456789abcdef0123456789abcdef");
        assert_eq!(e.users[0].name, "Alice Chen");
        assert_eq!(e.users[0].user_id.open_id.as_deref(), Some("ou_1111111111111111111111111111111a"));
    }

    #[test]
    fn rich_text_keeps_its_words_and_images_have_none() {
        let post = ReceivedMessage {
            message_id: "om_1".into(),
            chat_id: "oc_1".into(),
            chat_type: "group".into(),
            message_type: "post".into(),
            content: r#"{"title":"Outage","content":[[{"tag":"text","text":"db is "},{"tag":"a","text":"down","href":"https://x"}]]}"#.into(),
            mentions: vec![],
        };
        assert_eq!(post.words(None).as_deref(), Some("Outage db is down"));
        let image =
            ReceivedMessage { message_type: "image".into(), content: r#"{"image_key":"img_1"}"#.into(), ..post };
        assert_eq!(image.words(None), None);
    }

    #[test]
    fn a_card_answer_carries_toast_and_card() {
        let a = card_answer(ToastKind::Success, "Done", "完成", "Done", Some(json!({"schema":"2.0"})));
        assert_eq!(a["toast"]["type"], "success");
        assert_eq!(a["toast"]["i18n"]["zh_cn"], "完成");
        assert_eq!(a["card"]["type"], "raw");
        assert_eq!(a["card"]["data"]["schema"], "2.0");
    }
}
