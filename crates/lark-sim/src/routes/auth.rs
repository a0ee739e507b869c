//! `auth/v3/*_access_token/internal`: the only endpoints whose answer puts its fields at the top level.

use actix_web::http::StatusCode;
use serde_json::json;

use crate::call::{Call, str_field};
use crate::envelope::Reply;
use crate::ids;
use crate::state::{State, Token, TokenKind};

const LIFETIME_MS: i64 = 7200 * 1000;
/// Lark hands out a fresh token only once the current one has less than 30 minutes left.
const RENEW_BELOW_MS: i64 = 1800 * 1000;

pub(crate) fn tenant_token(st: &mut State, call: &Call<'_>) -> Reply {
    issue(st, call, TokenKind::Tenant)
}

pub(crate) fn app_token(st: &mut State, call: &Call<'_>) -> Reply {
    issue(st, call, TokenKind::App)
}

fn issue(st: &mut State, call: &Call<'_>, kind: TokenKind) -> Reply {
    let body = match call.object(10003) {
        Ok(body) => body,
        Err(reply) => return reply,
    };
    let (Some(app_id), Some(app_secret)) = (str_field(&body, "app_id"), str_field(&body, "app_secret")) else {
        return Reply::error(10003, "invalid param: app_id and app_secret are required");
    };
    if app_id != st.app_id || app_secret != st.app_secret {
        return Reply::error(10014, "app secret invalid");
    }
    let now = st.now_ms();
    let current = st
        .tokens
        .iter()
        .rev()
        .find(|t| t.kind == kind && !t.revoked && t.expires_ms - now >= RENEW_BELOW_MS)
        .map(|t| (t.value.clone(), t.expires_ms));
    let (value, expires_ms) = current.unwrap_or_else(|| {
        let token = Token { value: ids::token(), kind, expires_ms: now + LIFETIME_MS, revoked: false };
        let issued = (token.value.clone(), token.expires_ms);
        st.tokens.push(token);
        st.tokens_issued += 1;
        issued
    });
    let expire = (expires_ms - now) / 1000;
    let body = match kind {
        TokenKind::Tenant => json!({"code": 0, "msg": "ok", "tenant_access_token": value, "expire": expire}),
        TokenKind::App => json!({"code": 0, "msg": "success", "app_access_token": value, "expire": expire}),
    };
    Reply::top_level(StatusCode::OK, body)
}
