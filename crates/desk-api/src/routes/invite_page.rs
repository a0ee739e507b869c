//! The page an invite link opens (`/invite/{token}`): what the link is for, and a button
//! that starts Lark's web-app login; and the page Lark's login returns to
//! (`/invite/callback?code=…&state=…`), which redeems the link with that code.
//!
//! The token is kept in the browser's session storage between the two, so it never
//! travels to Lark (the `redirect_uri` is the same for every link, as Lark's console wants
//! it registered), and both pages tell the browser to send no `Referer`.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use desk_store::ChatKind;

use super::invites::invites;
use crate::error::ApiError;
use crate::state::AppState;

/// Escapes text for HTML element content and attribute values.
fn esc(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '&' => "&amp;".to_owned(),
            '<' => "&lt;".to_owned(),
            '>' => "&gt;".to_owned(),
            '"' => "&quot;".to_owned(),
            '\'' => "&#39;".to_owned(),
            c => c.to_string(),
        })
        .collect()
}

/// A JSON value safe inside a `<script>` element.
fn js(value: &serde_json::Value) -> String {
    value.to_string().replace('<', "\\u003c").replace('>', "\\u003e").replace('&', "\\u0026")
}

fn html(status: StatusCode, title: &str, body: &str) -> HttpResponse {
    let page = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<meta name=\"referrer\" content=\"no-referrer\"><title>{title}</title>\
<style>body{{font-family:system-ui,sans-serif;max-width:34rem;margin:3rem auto;padding:0 1rem;line-height:1.5}}\
button{{font-size:1rem;padding:.6rem 1.2rem;border-radius:.4rem;border:0;background:#3370ff;color:#fff;cursor:pointer}}\
.muted{{color:#646a73}}</style></head><body>{body}</body></html>",
        title = esc(title),
    );
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header(("cache-control", "no-store"))
        .insert_header(("referrer-policy", "no-referrer"))
        .insert_header(("x-frame-options", "DENY"))
        .insert_header(("x-content-type-options", "nosniff"))
        .body(page)
}

fn refused(e: &ApiError) -> HttpResponse {
    let body = format!(
        "<h1>This invite link cannot be used</h1><p>{}</p>\
<p class=\"muted\">Ask whoever sent it to you for a new one: links work for 24 hours.</p>",
        esc(&e.to_string())
    );
    html(e.status_code(), "Invite link", &body)
}

/// The page an invite link opens.
#[utoipa::path(get, path = "/invite/{token}", tag = "invites",
    params(("token" = String, Path, description = "The link's token (`ldi_…`)")),
    responses((status = 200, description = "An HTML page: what the link is for, and a button to log in with Lark", content_type = "text/html"),
        (status = 404, description = "No such link (HTML)", content_type = "text/html"),
        (status = 410, description = "Expired, revoked or used up (HTML)", content_type = "text/html")))]
pub async fn page(state: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    let token = req.match_info().get("token").unwrap_or_default();
    let view = match invites(&state).look(token).await {
        Ok(view) => view,
        Err(e) => return refused(&ApiError::from(e)),
    };
    let what = match (&view.group_kind, &view.ticket) {
        (ChatKind::Ticket, Some((number, title))) => {
            format!("the Lark group of support ticket <b>#{number} {}</b>", esc(title))
        }
        _ => format!("<b>{}</b>, the service group", esc(&view.group_name)),
    };
    let expires = view.invite.expires_at.format("%Y-%m-%d %H:%M UTC");
    let intro = format!(
        "<h1>Join {org} in Lark</h1><p>You were invited to {what} of <b>{org}</b>, where {org} \
and its support team work on it together.</p><p class=\"muted\">Log in with your Lark account; \
you are then added to the group. This link works until {expires}.</p>",
        org = esc(&view.org_name),
    );
    let Some(login) = view.login else {
        let body = format!("{intro}<p>This group is not connected to Lark yet; try again later.</p>");
        return html(StatusCode::OK, "Invite link", &body);
    };
    let script = format!(
        "<script>\nconst invite = {{ token: {token}, authorize: {authorize} }};\n\
function join() {{\n  const bytes = new Uint8Array(16);\n  crypto.getRandomValues(bytes);\n\
  const state = Array.from(bytes, b => b.toString(16).padStart(2, '0')).join('');\n\
  sessionStorage.setItem('larkdesk.invite', JSON.stringify({{ token: invite.token, state }}));\n\
  location.href = invite.authorize + '&state=' + state;\n}}\n</script>",
        token = js(&serde_json::Value::String(token.to_owned())),
        authorize = js(&serde_json::Value::String(login.authorize_url)),
    );
    let body = format!("{intro}<p><button onclick=\"join()\">Log in with Lark and join</button></p>{script}");
    html(StatusCode::OK, "Invite link", &body)
}

/// Where Lark's login returns to: redeems the link kept in the browser with the code.
#[utoipa::path(get, path = "/invite/callback", tag = "invites",
    responses((status = 200, description = "An HTML page that finishes joining through the invite link", content_type = "text/html")))]
pub async fn callback(state: web::Data<AppState>) -> HttpResponse {
    let redirect_uri =
        format!("{}{}", state.settings.public_url.trim_end_matches('/'), group_manager::invites::CALLBACK_PATH);
    let script = format!(
        "<script>\nconst redirectUri = {redirect};\nconst out = document.getElementById('out');\n\
const q = new URLSearchParams(location.search);\nhistory.replaceState(null, '', location.pathname);\n\
const kept = JSON.parse(sessionStorage.getItem('larkdesk.invite') || 'null');\n\
sessionStorage.removeItem('larkdesk.invite');\n\
if (q.get('error')) {{ out.textContent = 'The Lark login was cancelled; open the invite link again to join.'; }}\n\
else if (!kept || kept.state !== q.get('state') || !q.get('code')) {{ out.textContent = 'This login did not start from an invite link here; open the invite link again.'; }}\n\
else {{\n  fetch('/api/v1/invites/' + encodeURIComponent(kept.token) + '/redeem', {{\n\
    method: 'POST', headers: {{ 'content-type': 'application/json' }},\n\
    body: JSON.stringify({{ code: q.get('code'), redirect_uri: redirectUri }})\n  }})\n\
  .then(r => r.json().then(b => [r.ok, b]))\n\
  .then(([ok, b]) => {{ out.textContent = ok ? (b.already_member ? 'You are already in this group: open Lark to find it.' : 'Welcome, ' + b.name + '! You are in the group now: open Lark to find it.') : b.detail; }})\n\
  .catch(() => {{ out.textContent = 'The desk could not be reached; open the invite link again.'; }});\n}}\n</script>",
        redirect = js(&serde_json::Value::String(redirect_uri)),
    );
    let body = format!("<h1>Joining the group…</h1><p id=\"out\">One moment.</p>{script}");
    html(StatusCode::OK, "Joining", &body)
}
