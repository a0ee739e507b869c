//! `im/v1/chats`: create, get, update, disband and share links.

use serde_json::{Map, Value, json};

use crate::call::{Call, str_field, str_list};
use crate::envelope::Reply;
use crate::ids;
use crate::routes::contacts::id_of;
use crate::state::{Chat, Owner, State, default_chat_settings};

pub(super) const INVALID: i64 = 232_001;
const INVALID_CHAT: i64 = 232_006;
const UNSUPPORTED_CHAT: i64 = 232_008;
const DISSOLVED: i64 = 232_009;
const BOT_NOT_IN_CHAT: i64 = 232_011;
const NOT_OWNER: i64 = 232_017;
const SHORT_NAME: i64 = 232_020;
const BOT_NOT_FOUND: i64 = 232_021;
const EXTERNAL: i64 = 232_033;
const NAME_REQUIRED: i64 = 232_042;
const UNAVAILABLE_IDS: i64 = 232_043;
const P2P_LINK: i64 = 232_061;

const MAX_USERS: usize = 50;
const MAX_BOTS: usize = 5;
const MAX_UUID_CHARS: usize = 50;
const UUID_WINDOW_MS: i64 = 10 * 3600 * 1000;
const DEFAULT_PRIVATE_NAME: &str = "(无主题)";

pub(crate) fn create(st: &mut State, call: &Call<'_>) -> Reply {
    match try_create(st, call) {
        Ok(reply) | Err(reply) => reply,
    }
}

fn try_create(st: &mut State, call: &Call<'_>) -> Result<Reply, Reply> {
    let id_type = user_id_type(call)?;
    let set_bot_manager = match call.query("set_bot_manager") {
        None | Some("false") => false,
        Some("true") => true,
        Some(_) => return Err(invalid("set_bot_manager must be true or false")),
    };
    let uuid = call.query("uuid").map(str::to_owned);
    if uuid.as_ref().is_some_and(|u| u.chars().count() > MAX_UUID_CHARS) {
        return Err(invalid("uuid must be at most 50 characters"));
    }
    let body = call.object(INVALID)?;
    let user_ids = str_list(&body, "user_id_list").map_err(invalid)?;
    let bot_ids = str_list(&body, "bot_id_list").map_err(invalid)?;
    if user_ids.len() > MAX_USERS {
        return Err(invalid("at most 50 users per call"));
    }
    if bot_ids.len() > MAX_BOTS {
        return Err(invalid("at most 5 bots per call"));
    }
    if let Some(bot) = bot_ids.iter().find(|b| **b != st.app_id) {
        return Err(Reply::error(BOT_NOT_FOUND, format!("bot not found: {bot}")));
    }
    let external = body.get("external").and_then(Value::as_bool) == Some(true);
    if external && !st.external_chats {
        return Err(Reply::error(
            EXTERNAL,
            "external chat not allowed: the app's external sharing is off, so it cannot create external chats",
        ));
    }
    let mut settings = default_chat_settings();
    apply_settings(&mut settings, &body)?;
    // Kept with the settings so get and create echo it (it is not one the caller may change later).
    settings.insert("external".to_owned(), json!(external));
    let is_public = settings.get("chat_type").and_then(Value::as_str) == Some("public");
    let name = str_field(&body, "name");
    check_name(name, is_public)?;
    let owner_raw = str_field(&body, "owner_id");
    let owner = match owner_raw {
        None => Owner::Bot,
        Some(id) => Owner::User(resolve(st, id_type, &[id.to_owned()])?.remove(0)),
    };
    let users = resolve(st, id_type, &user_ids)?;
    let now = st.now_ms();
    let dedupe_key = uuid.clone().map(|u| (u, owner_raw.unwrap_or_default().to_owned()));
    if let Some((index, created)) = dedupe_key.as_ref().and_then(|k| st.chat_uuids.get(k))
        && now - created < UUID_WINDOW_MS
    {
        return Ok(Reply::ok(chat_json(st, &st.chats[*index], id_type, View::Created)));
    }
    let mut members: Vec<String> = Vec::new();
    if let Owner::User(open_id) = &owner {
        members.push(open_id.clone());
    }
    for open_id in users {
        if !members.contains(&open_id) {
            members.push(open_id);
        }
    }
    let chat = Chat {
        chat_id: ids::chat_id(),
        name: name
            .map_or_else(|| if is_public { String::new() } else { DEFAULT_PRIVATE_NAME.to_owned() }, str::to_owned),
        description: str_field(&body, "description").unwrap_or_default().to_owned(),
        bot_manager: set_bot_manager && owner != Owner::Bot,
        owner,
        disbanded: false,
        members,
        bot_member: true,
        p2p: false,
        created_by_bot: true,
        uuid,
        settings,
    };
    let index = st.insert_chat(chat);
    if let Some(key) = dedupe_key {
        st.chat_uuids.insert(key, (index, now));
    }
    Ok(Reply::ok(chat_json(st, &st.chats[index], id_type, View::Created)))
}

pub(crate) fn get(st: &mut State, call: &Call<'_>) -> Reply {
    match try_get(st, call) {
        Ok(reply) | Err(reply) => reply,
    }
}

fn try_get(st: &mut State, call: &Call<'_>) -> Result<Reply, Reply> {
    let id_type = user_id_type(call)?;
    let index = usable_chat(st, call.param("chat_id"))?;
    require_bot(st, index)?;
    Ok(Reply::ok(chat_json(st, &st.chats[index], id_type, View::Full)))
}

pub(crate) fn update(st: &mut State, call: &Call<'_>) -> Reply {
    match try_update(st, call) {
        Ok(reply) | Err(reply) => reply,
    }
}

fn try_update(st: &mut State, call: &Call<'_>) -> Result<Reply, Reply> {
    let id_type = user_id_type(call)?;
    let index = usable_chat(st, call.param("chat_id"))?;
    require_bot(st, index)?;
    let body = call.object(INVALID)?;
    let mut settings = st.chats[index].settings.clone();
    apply_settings(&mut settings, &body)?;
    let is_public = settings.get("chat_type").and_then(Value::as_str) == Some("public");
    let name = match body.get("name") {
        None | Some(Value::Null) => None,
        Some(Value::String(name)) => Some(name.clone()),
        Some(_) => return Err(invalid("name must be a string")),
    };
    check_name(name.as_deref().or(Some(st.chats[index].name.as_str())), is_public)?;
    let description = match body.get("description") {
        None | Some(Value::Null) => None,
        Some(Value::String(d)) => Some(d.clone()),
        Some(_) => return Err(invalid("description must be a string")),
    };
    let new_owner = match str_field(&body, "owner_id") {
        None => None,
        Some(id) => {
            let open_id = resolve(st, id_type, &[id.to_owned()])?.remove(0);
            if !st.chats[index].members.contains(&open_id) {
                return Err(Reply::error(UNAVAILABLE_IDS, "the new owner must be a member of the chat"));
            }
            Some(Owner::User(open_id))
        }
    };
    let chat = &mut st.chats[index];
    chat.settings = settings;
    chat.name = name.unwrap_or_else(|| chat.name.clone());
    chat.description = description.unwrap_or_else(|| chat.description.clone());
    if let Some(owner) = new_owner {
        chat.owner = owner;
    }
    Ok(Reply::ok(json!({})))
}

pub(crate) fn disband(st: &mut State, call: &Call<'_>) -> Reply {
    match try_disband(st, call) {
        Ok(reply) | Err(reply) => reply,
    }
}

fn try_disband(st: &mut State, call: &Call<'_>) -> Result<Reply, Reply> {
    let index = usable_chat(st, call.param("chat_id"))?;
    require_bot(st, index)?;
    let chat = &mut st.chats[index];
    if chat.p2p {
        return Err(Reply::error(UNSUPPORTED_CHAT, "p2p chats cannot be disbanded"));
    }
    // A tenant token may disband chats the bot owns or created (Lark's "chats created by the app" scope).
    if !(chat.created_by_bot || chat.owner == Owner::Bot) {
        return Err(Reply::error(NOT_OWNER, "only the chat owner can disband the chat"));
    }
    chat.disbanded = true;
    let bot = st.bot_open_id.clone();
    st.emit_disbanded(index, &bot);
    Ok(Reply::ok(json!({})))
}

pub(crate) fn share_link(st: &mut State, call: &Call<'_>) -> Reply {
    match try_share_link(st, call) {
        Ok(reply) | Err(reply) => reply,
    }
}

fn try_share_link(st: &mut State, call: &Call<'_>) -> Result<Reply, Reply> {
    let index = usable_chat(st, call.param("chat_id"))?;
    require_bot(st, index)?;
    if st.chats[index].p2p {
        return Err(Reply::error(P2P_LINK, "p2p chats cannot be shared"));
    }
    let body = call.object(INVALID)?;
    let days = match str_field(&body, "validity_period").unwrap_or("week") {
        "week" => Some(7),
        "year" => Some(365),
        "permanently" => None,
        _ => return Err(invalid("validity_period must be week, year or permanently")),
    };
    let expire_time = days.map_or(0, |d: i64| st.now().timestamp() + d * 24 * 3600);
    Ok(Reply::ok(json!({
        "share_link": format!(
            "https://applink.larksuite.com/client/chat/chatter/add_by_link?link_token={}",
            ids::link_token()
        ),
        "expire_time": expire_time.to_string(),
        "is_permanent": days.is_none(),
    })))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum View {
    Created,
    Full,
}

fn chat_json(st: &State, chat: &Chat, id_type: &str, view: View) -> Value {
    let mut data = chat.settings.clone();
    let (owner_id, owner_id_type) = match &chat.owner {
        Owner::Bot => (st.app_id.clone(), "app_id"),
        Owner::User(open_id) => {
            (st.user_by_open_id(open_id).map_or_else(|| open_id.clone(), |u| id_of(u, id_type)), id_type)
        }
    };
    let fields = [
        ("name", json!(chat.name)),
        ("description", json!(chat.description)),
        ("owner_id", json!(owner_id)),
        ("owner_id_type", json!(owner_id_type)),
        ("external", json!(chat.settings.get("external").and_then(Value::as_bool).unwrap_or(false))),
        ("tenant_key", json!(st.tenant_key)),
    ];
    data.extend(fields.into_iter().map(|(k, v)| (k.to_owned(), v)));
    match view {
        View::Created => {
            data.insert("chat_id".to_owned(), json!(chat.chat_id));
        }
        View::Full => {
            let bot_managers: Vec<&str> = if chat.bot_manager { vec![st.app_id.as_str()] } else { Vec::new() };
            data.insert("user_manager_id_list".to_owned(), json!([]));
            data.insert("bot_manager_id_list".to_owned(), json!(bot_managers));
            data.insert("user_count".to_owned(), json!(chat.members.len().to_string()));
            data.insert("bot_count".to_owned(), json!(u8::from(chat.bot_member).to_string()));
            data.insert("chat_status".to_owned(), json!("normal"));
        }
    }
    Value::Object(data)
}

/// Settings a caller may set: any key the defaults know, with a value of the same JSON kind.
fn apply_settings(settings: &mut Map<String, Value>, body: &Map<String, Value>) -> Result<(), Reply> {
    for (key, value) in body {
        let Some(current) = settings.get_mut(key) else { continue };
        if key == "chat_mode" || key == "chat_tag" || key == "external" || value.is_null() {
            continue;
        }
        if std::mem::discriminant(current) != std::mem::discriminant(value) {
            return Err(invalid(format!("{key} has the wrong type")));
        }
        *current = value.clone();
    }
    let chat_type = settings.get("chat_type").and_then(Value::as_str);
    if !matches!(chat_type, Some("private" | "public")) {
        return Err(invalid("chat_type must be private or public"));
    }
    Ok(())
}

fn check_name(name: Option<&str>, is_public: bool) -> Result<(), Reply> {
    match name {
        _ if !is_public => Ok(()),
        None | Some("") => Err(Reply::error(NAME_REQUIRED, "a public chat needs a name")),
        Some(n) if n.chars().count() < 2 => {
            Err(Reply::error(SHORT_NAME, "a public chat name needs at least 2 characters"))
        }
        Some(_) => Ok(()),
    }
}

fn user_id_type<'c>(call: &'c Call<'_>) -> Result<&'c str, Reply> {
    let id_type = call.query("user_id_type").unwrap_or("open_id");
    if matches!(id_type, "open_id" | "union_id" | "user_id") {
        Ok(id_type)
    } else {
        Err(invalid("user_id_type must be open_id, union_id or user_id"))
    }
}

/// open_ids of the given users; any unknown id fails the call, listing them all.
fn resolve(st: &State, id_type: &str, ids: &[String]) -> Result<Vec<String>, Reply> {
    let (found, missing): (Vec<_>, Vec<_>) =
        ids.iter().map(|id| st.find_user(id_type, id).map(|u| u.open_id.clone()).ok_or(id)).partition(Result::is_ok);
    if missing.is_empty() {
        Ok(found.into_iter().flatten().collect())
    } else {
        let missing: Vec<&String> = missing.into_iter().filter_map(Result::err).collect();
        Err(Reply::error(UNAVAILABLE_IDS, format!("unavailable ids: {missing:?}")))
    }
}

/// The chat, unless it does not exist (232006) or was disbanded (232009).
pub(super) fn usable_chat(st: &State, chat_id: &str) -> Result<usize, Reply> {
    let index =
        st.chat_index(chat_id).ok_or_else(|| Reply::error(INVALID_CHAT, format!("invalid chat_id: {chat_id}")))?;
    if st.chats[index].disbanded {
        return Err(Reply::error(DISSOLVED, "The chat has been dissolved."));
    }
    Ok(index)
}

pub(super) fn require_bot(st: &State, index: usize) -> Result<(), Reply> {
    if st.chats[index].bot_member {
        Ok(())
    } else {
        Err(Reply::error(BOT_NOT_IN_CHAT, "The operator (bot) is not in the chat."))
    }
}

pub(super) fn invalid(why: impl std::fmt::Display) -> Reply {
    Reply::error(INVALID, format!("invalid param: {why}"))
}
