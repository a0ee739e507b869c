//! `POST /callback/ws/endpoint`: long-connection discovery (spec §7.2). Not under `/open-apis`, no
//! token, PascalCase body keys.

use actix_web::http::StatusCode;
use serde_json::json;

use crate::call::{Call, str_field};
use crate::envelope::Reply;
use crate::state::State;

const INVALID: i64 = 10003;
/// The code the token endpoints give for wrong credentials (spec §1.4, §10.1), reused here.
const BAD_CREDENTIALS: i64 = 10014;

/// Answers with a fresh WebSocket URL and the ClientConfig.
///
/// Errors come with HTTP 200 and a non-zero `code`: the SDKs treat a non-200 status (and codes 1
/// and 1000040343) as "server busy, retry later", and any other code as a client error that stops
/// the reconnect loop (spec §7.2). Wrong credentials must be the latter, or a misconfigured client
/// would retry forever. Which code Lark sends is not documented; 10014 "app secret invalid" is what
/// the simulator already answers for the same mistake on the token endpoints.
pub(crate) fn ws_endpoint(st: &mut State, call: &Call<'_>) -> Reply {
    let body = match call.object(INVALID) {
        Ok(body) => body,
        Err(_) => return failure(INVALID, "invalid param: the body must be a JSON object"),
    };
    let (Some(app_id), Some(app_secret)) = (str_field(&body, "AppID"), str_field(&body, "AppSecret")) else {
        return failure(INVALID, "invalid param: AppID and AppSecret are required");
    };
    if app_id != st.app_id || app_secret != st.app_secret {
        return failure(BAD_CREDENTIALS, "app secret invalid");
    }
    let now = st.now_ms();
    let url = st.ws.issue(now);
    Reply::top_level(
        StatusCode::OK,
        json!({"code": 0, "msg": "ok", "data": {"URL": url, "ClientConfig": st.ws.client_config}}),
    )
}

fn failure(code: i64, msg: &str) -> Reply {
    Reply::top_level(StatusCode::OK, json!({"code": code, "msg": msg, "data": {}}))
}
