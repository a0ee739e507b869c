//! Web-app login (lark-spec.md §9.2): the authorize page that redirects the browser back
//! with a `code`, the v2 token endpoint that exchanges it for a user access token, and
//! `user_info` for whoever holds that token.
//!
//! Codes live 5 minutes on the sim clock and work once; user tokens (`u-…`) live 7200 s.
//! The token endpoint answers at the top level and, on failure, HTTP 400 with
//! `{"code", "error", "error_description"}` rather than the usual envelope.

use actix_web::http::StatusCode;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::call::{Call, str_field};
use crate::envelope::{Body, Reply};
use crate::ids;
use crate::state::State;

/// A code lives 5 minutes.
const CODE_LIFETIME_MS: i64 = 5 * 60 * 1000;
/// A user access token lives 2 hours.
const USER_TOKEN_LIFETIME_S: i64 = 7200;
/// A refresh token lives 7 days.
const REFRESH_LIFETIME_S: i64 = 604_800;

/// A login code handed to the browser.
#[derive(Debug)]
pub(crate) struct LoginCode {
    pub(crate) code: String,
    pub(crate) open_id: String,
    pub(crate) redirect_uri: Option<String>,
    pub(crate) scope: String,
    /// `(challenge, method)` when the authorize request used PKCE.
    pub(crate) challenge: Option<(String, String)>,
    pub(crate) issued_ms: i64,
    pub(crate) used: bool,
}

/// A user access token.
#[derive(Debug)]
pub(crate) struct UserToken {
    pub(crate) value: String,
    pub(crate) open_id: String,
    pub(crate) scope: String,
    pub(crate) expires_ms: i64,
}

/// What the simulator remembers of logins.
#[derive(Debug, Default)]
pub(crate) struct Logins {
    pub(crate) codes: Vec<LoginCode>,
    pub(crate) tokens: Vec<UserToken>,
}

impl Logins {
    /// Issues a code for `open_id` (the person finished Lark's login page).
    pub(crate) fn issue(
        &mut self,
        open_id: &str,
        redirect_uri: Option<&str>,
        scope: &str,
        challenge: Option<(String, String)>,
        now_ms: i64,
    ) -> String {
        let code = ids::login_code();
        self.codes.push(LoginCode {
            code: code.clone(),
            open_id: open_id.to_owned(),
            redirect_uri: redirect_uri.map(str::to_owned),
            scope: scope.to_owned(),
            challenge,
            issued_ms: now_ms,
            used: false,
        });
        code
    }
}

/// An OAuth failure as the v2 token endpoint words it.
fn oauth_error(code: i64, error: &str, description: &str) -> Reply {
    Reply::top_level(StatusCode::BAD_REQUEST, json!({"code": code, "error": error, "error_description": description}))
}

/// A page-level refusal of the authorize endpoint (Lark shows an error page; the sim says it in JSON).
fn page_error(description: &str) -> Reply {
    oauth_error(20001, "invalid_request", description)
}

fn redirect(to: String) -> Reply {
    Reply { status: StatusCode::FOUND, body: Body::Text(""), headers: vec![("location", to)] }
}

/// `uri` with `pairs` appended to its query string.
fn with_query(uri: &str, pairs: &[(&str, &str)]) -> String {
    let query: String = url_encode_pairs(pairs);
    let sep = if uri.contains('?') { '&' } else { '?' };
    format!("{uri}{sep}{query}")
}

fn url_encode_pairs(pairs: &[(&str, &str)]) -> String {
    let encode = |s: &str| {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
                _ => format!("%{b:02X}"),
            })
            .collect::<String>()
    };
    pairs.iter().map(|(k, v)| format!("{}={}", encode(k), encode(v))).collect::<Vec<_>>().join("&")
}

/// `GET /open-apis/authen/v1/authorize`: the person logs in and the browser is sent to
/// `redirect_uri?code=…&state=…`. Who logs in: the directory user named by the sim-only
/// `sim_user` parameter (open_id or email), else the first one. `sim_deny=1` plays a
/// person who refuses: `redirect_uri?error=access_denied&state=…`.
pub(crate) fn authorize(st: &mut State, call: &Call<'_>) -> Reply {
    let Some(client_id) = call.query("client_id") else { return page_error("client_id is required") };
    if client_id != st.app_id {
        return page_error("client_id names no app");
    }
    let Some(redirect_uri) = call.query("redirect_uri") else { return page_error("redirect_uri is required") };
    let state = call.query("state").unwrap_or_default();
    if call.query("sim_deny") == Some("1") {
        return redirect(with_query(redirect_uri, &[("error", "access_denied"), ("state", state)]));
    }
    let user = match call.query("sim_user") {
        Some(who) => st.find_user("open_id", who).or_else(|| st.find_user("email", who)),
        None => st.users.first(),
    };
    let Some(open_id) = user.map(|u| u.open_id.clone()) else {
        return page_error("nobody in the directory can log in");
    };
    let challenge = call
        .query("code_challenge")
        .map(|c| (c.to_owned(), call.query("code_challenge_method").unwrap_or("plain").to_owned()));
    let scope = call.query("scope").unwrap_or_default().to_owned();
    let now = st.now_ms();
    let code = st.logins.issue(&open_id, Some(redirect_uri), &scope, challenge, now);
    redirect(with_query(redirect_uri, &[("code", &code), ("state", state)]))
}

/// `POST /open-apis/authen/v2/oauth/token` with `grant_type=authorization_code`.
pub(crate) fn token(st: &mut State, call: &Call<'_>) -> Reply {
    let body = match call.object(20001) {
        Ok(body) => body,
        Err(_) => return oauth_error(20001, "invalid_request", "the body must be a JSON object"),
    };
    let field = |k: &str| str_field(&body, k);
    let (Some(grant_type), Some(client_id), Some(client_secret)) =
        (field("grant_type"), field("client_id"), field("client_secret"))
    else {
        return oauth_error(20001, "invalid_request", "grant_type, client_id and client_secret are required");
    };
    if grant_type != "authorization_code" {
        // The sim issues no refresh tokens it would accept back; only codes are exchanged.
        return oauth_error(20001, "unsupported_grant_type", "grant_type must be authorization_code");
    }
    if client_id != st.app_id || client_secret != st.app_secret {
        return oauth_error(20002, "invalid_client", "client_id or client_secret is wrong");
    }
    let Some(code) = field("code") else { return oauth_error(20001, "invalid_request", "code is required") };
    let now = st.now_ms();
    let Some(login) = st.logins.codes.iter_mut().find(|c| c.code == code) else {
        return oauth_error(20003, "invalid_grant", "the authorization code was not found");
    };
    if login.used {
        return oauth_error(20065, "invalid_grant", "the authorization code has been used");
    }
    if now - login.issued_ms >= CODE_LIFETIME_MS {
        return oauth_error(20004, "invalid_grant", "the authorization code has expired");
    }
    // The exchange names the authorize request's redirect_uri, or none when it had none (the
    // login inside the Lark client).
    if field("redirect_uri") != login.redirect_uri.as_deref() {
        return oauth_error(20071, "invalid_grant", "redirect_uri does not match the authorization request");
    }
    if let Some((challenge, method)) = &login.challenge {
        let verified = field("code_verifier").is_some_and(|v| match method.as_str() {
            "S256" => URL_SAFE_NO_PAD.encode(Sha256::digest(v.as_bytes())) == *challenge,
            _ => v == challenge,
        });
        if !verified {
            return oauth_error(20049, "invalid_grant", "code_verifier does not match code_challenge");
        }
    }
    login.used = true;
    let (open_id, scope) = (login.open_id.clone(), login.scope.clone());
    let value = ids::user_token();
    st.logins.tokens.push(UserToken {
        value: value.clone(),
        open_id,
        scope: scope.clone(),
        expires_ms: now + USER_TOKEN_LIFETIME_S * 1000,
    });
    let mut answer = json!({
        "code": 0,
        "access_token": value,
        "expires_in": USER_TOKEN_LIFETIME_S,
        "token_type": "Bearer",
        "scope": scope,
    });
    if scope.split_whitespace().any(|s| s == "offline_access") {
        answer["refresh_token"] = json!(ids::refresh_token());
        answer["refresh_token_expires_in"] = json!(REFRESH_LIFETIME_S);
    }
    Reply::top_level(StatusCode::OK, answer)
}

/// `GET /open-apis/authen/v1/user_info` with `Authorization: Bearer <user access token>`.
/// `email`, `mobile` and `user_id` only with their scopes.
pub(crate) fn user_info(st: &mut State, call: &Call<'_>) -> Reply {
    let Some(token) = call.bearer() else { return Reply::missing_token() };
    let now = st.now_ms();
    let Some(held) = st.logins.tokens.iter().find(|t| t.value == token) else {
        if st.is_valid_tenant_token(token) {
            return Reply::invalid_token();
        }
        return Reply::error(
            99_991_668,
            "Invalid access token for authorization. Please make a request with token attached",
        );
    };
    if held.expires_ms <= now {
        return Reply::error(99_991_677, "user access token expired");
    }
    let Some(user) = st.user_by_open_id(&held.open_id) else {
        return Reply::error(99_991_668, "the user of this token no longer exists");
    };
    let scoped = |scope: &str| held.scope.split_whitespace().any(|s| s == scope);
    let mut data = json!({
        "name": user.name,
        "en_name": user.name,
        "avatar_url": "https://sim.invalid/avatar/user.png",
        "avatar_thumb": "https://sim.invalid/avatar/user_72.png",
        "avatar_middle": "https://sim.invalid/avatar/user_240.png",
        "avatar_big": "https://sim.invalid/avatar/user_640.png",
        "open_id": user.open_id,
        "union_id": user.union_id,
        "tenant_key": st.tenant_key,
        "employee_no": "",
    });
    if scoped("contact:user.email:readonly") {
        data["email"] = json!(user.email);
        data["enterprise_email"] = json!(user.email);
    }
    if scoped("contact:user.phone:readonly") {
        data["mobile"] = json!(user.mobile);
    }
    if scoped("contact:user.employee_id:readonly") {
        data["user_id"] = json!(user.user_id);
    }
    if let Value::Object(map) = &mut data {
        map.retain(|_, v| !v.is_null());
    }
    Reply::ok(data)
}
