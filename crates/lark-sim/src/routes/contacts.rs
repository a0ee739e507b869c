//! `contact/v3/users`: finding people by email or mobile, and reading one user.

use serde_json::{Map, Value, json};

use crate::call::{Call, str_list};
use crate::config::SimUserInfo;
use crate::envelope::Reply;
use crate::state::State;

const INVALID: i64 = 10003;
const MAX_PER_LIST: usize = 50;

pub(crate) fn batch_get_id(st: &mut State, call: &Call<'_>) -> Reply {
    let id_type = call.query("user_id_type").unwrap_or("open_id");
    if !matches!(id_type, "open_id" | "union_id" | "user_id") {
        return Reply::error(INVALID, "invalid param: user_id_type");
    }
    let body = match call.object(INVALID) {
        Ok(body) => body,
        Err(reply) => return reply,
    };
    let (emails, mobiles) = match (str_list(&body, "emails"), str_list(&body, "mobiles")) {
        (Ok(e), Ok(m)) => (e, m),
        (Err(msg), _) | (_, Err(msg)) => return Reply::error(INVALID, format!("invalid param: {msg}")),
    };
    if emails.len() > MAX_PER_LIST || mobiles.len() > MAX_PER_LIST {
        return Reply::error(INVALID, "invalid param: at most 50 emails and 50 mobiles per call");
    }
    let mut user_list = Vec::with_capacity(emails.len() + mobiles.len());
    for email in emails {
        let found = st.users.iter().find(|u| u.email.as_deref() == Some(email.as_str()));
        user_list.push(entry("email", &email, found, id_type));
    }
    for mobile in mobiles {
        let found = st.users.iter().find(|u| u.mobile.as_deref().is_some_and(|m| same_mobile(m, &mobile)));
        user_list.push(entry("mobile", &mobile, found, id_type));
    }
    Reply::ok(json!({"user_list": user_list}))
}

/// Mainland numbers may be given without `+86`; others need their country code.
fn same_mobile(stored: &str, asked: &str) -> bool {
    stored == asked || (!asked.starts_with('+') && stored.strip_prefix("+86") == Some(asked))
}

/// Unknown people come back as an entry without `user_id`, not as an error.
fn entry(key: &str, asked: &str, found: Option<&SimUserInfo>, id_type: &str) -> Value {
    let mut entry = Map::new();
    entry.insert(key.to_owned(), json!(asked));
    if let Some(user) = found {
        entry.insert("user_id".to_owned(), json!(id_of(user, id_type)));
        entry.insert("status".to_owned(), status());
    }
    Value::Object(entry)
}

pub(crate) fn get_user(st: &mut State, call: &Call<'_>) -> Reply {
    let id_type = call.query("user_id_type").unwrap_or("open_id");
    let not_found_code = match id_type {
        "open_id" => 99_992_351,
        "user_id" => 99_992_360,
        "union_id" => 99_992_364,
        _ => return Reply::error(INVALID, "invalid param: user_id_type"),
    };
    let id = call.param("user_id");
    let Some(user) = st.find_user(id_type, id) else {
        return Reply::error(not_found_code, format!("The {id_type} does not exist: {id}"));
    };
    Reply::ok(json!({"user": {
        "name": user.name,
        "en_name": user.name,
        "nickname": "",
        "email": user.email.clone().unwrap_or_default(),
        "mobile": user.mobile.clone().unwrap_or_default(),
        "mobile_visible": true,
        "open_id": user.open_id,
        "union_id": user.union_id,
        "user_id": user.user_id,
        "avatar": {
            "avatar_72": "https://sim.invalid/avatar/72.png",
            "avatar_240": "https://sim.invalid/avatar/240.png",
            "avatar_640": "https://sim.invalid/avatar/640.png",
            "avatar_origin": "https://sim.invalid/avatar/origin.png",
        },
        "status": status(),
        "department_ids": [],
        "is_tenant_manager": false,
        "employee_type": 1,
        "tenant_key": st.tenant_key,
    }}))
}

fn status() -> Value {
    json!({"is_frozen": false, "is_resigned": false, "is_activated": true, "is_exited": false, "is_unjoin": false})
}

pub(crate) fn id_of(user: &SimUserInfo, id_type: &str) -> String {
    match id_type {
        "union_id" => user.union_id.clone(),
        "user_id" => user.user_id.clone(),
        _ => user.open_id.clone(),
    }
}
