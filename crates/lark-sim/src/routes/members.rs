//! `im/v1/chats/:chat_id/members`: add, remove, list, and "is the bot in here".

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use crate::call::{Call, str_list};
use crate::envelope::Reply;
use crate::events::{USERS_ADDED, USERS_DELETED};
use crate::routes::chats::{INVALID, invalid, require_bot, usable_chat};
use crate::routes::contacts::id_of;
use crate::state::{Owner, State};

const BOT_NOT_FOUND: i64 = 232_021;
const UNAVAILABLE_IDS: i64 = 232_043;
const MAX_USERS: usize = 50;
const MAX_BOTS: usize = 5;
const DEFAULT_PAGE: usize = 20;
const MAX_PAGE: usize = 100;

/// One requested member id after lookup.
#[derive(Debug)]
enum Member {
    User(String),
    Bot,
    Unknown(String),
}

fn member_id_type<'c>(call: &'c Call<'_>, allow_app_id: bool) -> Result<&'c str, Reply> {
    let id_type = call.query("member_id_type").unwrap_or("open_id");
    match id_type {
        "open_id" | "union_id" | "user_id" => Ok(id_type),
        "app_id" if allow_app_id => Ok(id_type),
        _ => Err(invalid("unsupported member_id_type")),
    }
}

fn lookup(st: &State, id_type: &str, id: &str) -> Member {
    if id_type == "app_id" {
        return if id == st.app_id { Member::Bot } else { Member::Unknown(id.to_owned()) };
    }
    st.find_user(id_type, id).map_or_else(|| Member::Unknown(id.to_owned()), |u| Member::User(u.open_id.clone()))
}

fn id_list(call: &Call<'_>, id_type: &str) -> Result<Vec<String>, Reply> {
    let body = call.object(INVALID)?;
    let ids = str_list(&body, "id_list").map_err(invalid)?;
    if ids.is_empty() {
        return Err(invalid("id_list is required"));
    }
    let (max, what) = if id_type == "app_id" { (MAX_BOTS, "bots") } else { (MAX_USERS, "users") };
    if ids.len() > max {
        return Err(invalid(format!("at most {max} {what} per call")));
    }
    Ok(ids)
}

pub(crate) fn add(st: &mut State, call: &Call<'_>) -> Reply {
    match try_add(st, call) {
        Ok(reply) | Err(reply) => reply,
    }
}

fn try_add(st: &mut State, call: &Call<'_>) -> Result<Reply, Reply> {
    let id_type = member_id_type(call, true)?;
    let succeed_type = match call.query("succeed_type").unwrap_or("0") {
        "0" => 0,
        "1" => 1,
        "2" => 2,
        _ => return Err(invalid("succeed_type must be 0, 1 or 2")),
    };
    let index = usable_chat(st, call.param("chat_id"))?;
    require_bot(st, index)?;
    let ids = id_list(call, id_type)?;
    let members: Vec<Member> = ids.iter().map(|id| lookup(st, id_type, id)).collect();
    let not_existed: Vec<&String> =
        members.iter().filter_map(|m| if let Member::Unknown(id) = m { Some(id) } else { None }).collect();
    if !not_existed.is_empty() {
        match succeed_type {
            0 => {
                return Err(Reply::error(
                    not_existed_code(id_type),
                    format!("these ids do not exist: {not_existed:?}"),
                ));
            }
            2 => {
                return Err(Reply::error_with_data(
                    UNAVAILABLE_IDS,
                    "some ids are unavailable",
                    json!({"invalid_id_list": [], "not_existed_id_list": not_existed, "pending_approval_id_list": []}),
                ));
            }
            _ => {}
        }
    }
    let chat = &st.chats[index];
    // With approval on, only the owner or a manager adds directly; anyone else's invitations wait.
    let needs_approval = chat.settings.get("membership_approval").and_then(Value::as_str) == Some("approval_required")
        && !(chat.owner == Owner::Bot || chat.bot_manager);
    let not_existed: Vec<String> = not_existed.into_iter().cloned().collect();
    let mut pending = Vec::new();
    let mut added = Vec::new();
    let chat = &mut st.chats[index];
    for (member, id) in members.into_iter().zip(&ids) {
        match member {
            Member::User(_) if needs_approval => pending.push(id.clone()),
            Member::User(open_id) if !chat.members.contains(&open_id) => {
                chat.members.push(open_id.clone());
                added.push(open_id);
            }
            Member::Bot => chat.bot_member = true,
            Member::User(_) | Member::Unknown(_) => {}
        }
    }
    let bot = st.bot_open_id.clone();
    st.emit_members_changed(USERS_ADDED, index, &bot, &added);
    Ok(Reply::ok(json!({
        "invalid_id_list": [],
        "not_existed_id_list": not_existed,
        "pending_approval_id_list": pending,
    })))
}

fn not_existed_code(id_type: &str) -> i64 {
    match id_type {
        "user_id" => 99_992_360,
        "union_id" => 99_992_364,
        "app_id" => BOT_NOT_FOUND,
        _ => 99_992_351,
    }
}

pub(crate) fn remove(st: &mut State, call: &Call<'_>) -> Reply {
    match try_remove(st, call) {
        Ok(reply) | Err(reply) => reply,
    }
}

fn try_remove(st: &mut State, call: &Call<'_>) -> Result<Reply, Reply> {
    let id_type = member_id_type(call, true)?;
    let index = usable_chat(st, call.param("chat_id"))?;
    require_bot(st, index)?;
    let ids = id_list(call, id_type)?;
    let members: Vec<Member> = ids.iter().map(|id| lookup(st, id_type, id)).collect();
    let chat = &mut st.chats[index];
    let mut invalid_ids = Vec::new();
    let mut removed = Vec::new();
    for (member, id) in members.into_iter().zip(ids) {
        match member {
            // The owner has to hand the chat over before leaving it.
            Member::User(open_id) if chat.owner != Owner::User(open_id.clone()) && chat.members.contains(&open_id) => {
                chat.members.retain(|m| *m != open_id);
                removed.push(open_id);
            }
            Member::Bot if chat.owner != Owner::Bot => chat.bot_member = false,
            Member::User(_) | Member::Bot | Member::Unknown(_) => invalid_ids.push(id),
        }
    }
    let bot = st.bot_open_id.clone();
    st.emit_members_changed(USERS_DELETED, index, &bot, &removed);
    Ok(Reply::ok(json!({"invalid_id_list": invalid_ids})))
}

pub(crate) fn list(st: &mut State, call: &Call<'_>) -> Reply {
    match try_list(st, call) {
        Ok(reply) | Err(reply) => reply,
    }
}

fn try_list(st: &mut State, call: &Call<'_>) -> Result<Reply, Reply> {
    let id_type = member_id_type(call, false)?;
    let page_size = match call.query("page_size") {
        None => DEFAULT_PAGE,
        Some(raw) => raw
            .parse()
            .ok()
            .filter(|n| (1..=MAX_PAGE).contains(n))
            .ok_or_else(|| invalid("page_size must be 1..=100"))?,
    };
    let offset = match call.query("page_token") {
        None => 0,
        Some(token) => decode_page_token(token).ok_or_else(|| invalid("invalid page_token"))?,
    };
    let index = usable_chat(st, call.param("chat_id"))?;
    require_bot(st, index)?;
    let chat = &st.chats[index];
    let items: Vec<Value> = chat
        .members
        .iter()
        .skip(offset)
        .take(page_size)
        .map(|open_id| {
            let user = st.user_by_open_id(open_id);
            json!({
                "member_id_type": id_type,
                "member_id": user.map_or_else(|| open_id.clone(), |u| id_of(u, id_type)),
                "name": user.map_or("", |u| u.name.as_str()),
                "tenant_key": st.tenant_key,
            })
        })
        .collect();
    let next = offset + items.len();
    let has_more = next < chat.members.len();
    Ok(Reply::ok(json!({
        "items": items,
        "page_token": if has_more { URL_SAFE_NO_PAD.encode(format!("members:{next}")) } else { String::new() },
        "has_more": has_more,
        "member_total": chat.members.len(),
    })))
}

fn decode_page_token(token: &str) -> Option<usize> {
    let raw = URL_SAFE_NO_PAD.decode(token).ok()?;
    std::str::from_utf8(&raw).ok()?.strip_prefix("members:")?.parse().ok()
}

pub(crate) fn is_in_chat(st: &mut State, call: &Call<'_>) -> Reply {
    match usable_chat(st, call.param("chat_id")) {
        Ok(index) => Reply::ok(json!({"is_in_chat": st.chats[index].bot_member})),
        Err(reply) => reply,
    }
}
