//! Invite links: staff create, list and revoke a group's 24-hour links
//! (`/api/v1/groups/{id}/invites`, `/api/v1/invites/{id}/revoke`); whoever holds a link
//! looks at it and redeems it without a bearer token (`/api/v1/invites/{token}`), as the
//! Lark user their Lark login code identifies.
//!
//! Tokens are in these paths, so the request log records the route pattern instead
//! (see `telemetry::RedactingRootSpan`), and no answer or error message repeats one
//! except the creation answer, to the person who asked for it.
#![expect(
    unused_qualifications,
    reason = "utoipa's `params(Type)` expansion qualifies the type with the span of our tokens"
)]

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use desk_core::invite::check_max_uses;
use desk_core::{Action, InviteId, Validation};
use desk_store::{ChatKind, Invite};
use group_manager::invites::{InviteView, Invites, Redeemed};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::PageParams;
use crate::auth::Caller;
use crate::error::{ApiError, Problem};
use crate::extract::{Body, IdPath, Query};
use crate::state::AppState;

/// The invite use cases over the server's store, clock and Lark clients.
pub(crate) fn invites(state: &AppState) -> Invites {
    Invites::new(state.store.clone(), state.clock.clone(), state.lanes.clone(), &state.settings.public_url)
}

/// The `{token}` of the path (it never reaches a log line).
fn token_of(req: &HttpRequest) -> &str {
    req.match_info().get("token").unwrap_or_default()
}

/// A link's metadata; the token is never shown after creation.
#[derive(Debug, Serialize, ToSchema)]
pub struct InviteDto {
    /// Id (for revoking).
    pub id: Uuid,
    /// The group it lets people into.
    pub group_id: Uuid,
    /// That group's organisation.
    pub org_id: Uuid,
    /// `live`, `expired`, `revoked` or `used_up`, now.
    pub state: String,
    /// Exactly 24 hours after creation.
    pub expires_at: DateTime<Utc>,
    /// At most this many people may use it; null: no limit.
    pub max_uses: Option<u32>,
    /// People who joined through it.
    pub uses: u32,
    /// Who made it.
    pub created_by_name: String,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Revoked, if it was.
    pub revoked_at: Option<DateTime<Utc>>,
    /// Why: `revoked` (by staff) or `ticket_closed`.
    pub revoked_reason: Option<String>,
}

impl InviteDto {
    fn new(i: Invite, now: DateTime<Utc>) -> Self {
        Self {
            id: i.id.as_uuid(),
            group_id: i.group_id,
            org_id: i.org_id.as_uuid(),
            state: i.state(now).as_str().to_owned(),
            expires_at: i.expires_at,
            max_uses: i.max_uses,
            uses: i.uses,
            created_by_name: i.created_by_name,
            created_at: i.created_at,
            revoked_at: i.revoked_at,
            revoked_reason: i.revoked_reason,
        }
    }
}

/// A new link.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateInvite {
    /// Limit the link to this many people (1–1000); omitted or null: no limit.
    pub max_uses: Option<i64>,
}

/// A created link, with its token: hand the URL on now, it is not shown again.
#[derive(Debug, Serialize, ToSchema)]
pub struct InviteCreated {
    /// Metadata.
    #[serde(flatten)]
    pub info: InviteDto,
    /// `{DESK_PUBLIC_URL}/invite/{token}`: the page that explains the link and starts the Lark login.
    pub url: String,
    /// The token (`ldi_…`, 256 random bits); only its hash is stored.
    pub token: String,
}

/// A page of live links.
#[derive(Debug, Serialize, ToSchema)]
pub struct InviteList {
    /// The links.
    pub items: Vec<InviteDto>,
    /// Pass as `cursor` for the next page; null on the last.
    pub next_cursor: Option<String>,
}

/// The group a link is for, as the person holding it may see it.
#[derive(Debug, Serialize, ToSchema)]
pub struct InviteGroupDto {
    /// The group's name in Lark.
    pub name: String,
    /// `main` (the organisation's service group) or `ticket`.
    pub kind: String,
}

/// The ticket of a ticket group.
#[derive(Debug, Serialize, ToSchema)]
pub struct InviteTicketDto {
    /// `#42`'s 42.
    pub number: i64,
    /// Its title.
    pub title: String,
}

/// How to log in with Lark to redeem the link.
#[derive(Debug, Serialize, ToSchema)]
pub struct InviteLoginDto {
    /// Lark's authorize page for the organisation's app; add `&state=<random>` and send the browser there.
    pub authorize_url: String,
    /// Where Lark sends the browser back with `code` (pass it to redeem as `redirect_uri`).
    pub redirect_uri: String,
    /// The Lark app (`cli_…`), for the login inside the Lark client.
    pub app_id: String,
}

/// What a live link is for.
#[derive(Debug, Serialize, ToSchema)]
pub struct InviteViewDto {
    /// The organisation's name.
    pub org_name: String,
    /// The group it lets you into.
    pub group: InviteGroupDto,
    /// For a ticket group, its ticket.
    pub ticket: Option<InviteTicketDto>,
    /// When the link stops working.
    pub expires_at: DateTime<Utc>,
    /// How many more people may use it; null: no limit.
    pub uses_left: Option<u32>,
    /// How to log in; null when the group is not connected to a Lark app.
    pub login: Option<InviteLoginDto>,
}

impl From<InviteView> for InviteViewDto {
    fn from(v: InviteView) -> Self {
        Self {
            org_name: v.org_name,
            group: InviteGroupDto {
                name: v.group_name,
                kind: match v.group_kind {
                    ChatKind::Main => "main",
                    ChatKind::Ticket => "ticket",
                }
                .to_owned(),
            },
            ticket: v.ticket.map(|(number, title)| InviteTicketDto { number, title }),
            expires_at: v.invite.expires_at,
            uses_left: v.invite.max_uses.map(|m| m.saturating_sub(v.invite.uses)),
            login: v.login.map(|l| InviteLoginDto {
                authorize_url: l.authorize_url,
                redirect_uri: l.redirect_uri,
                app_id: l.app_id,
            }),
        }
    }
}

/// A Lark login to redeem a link with.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RedeemInvite {
    /// The `code` Lark's login handed back (valid 5 minutes, single use).
    pub code: String,
    /// The `redirect_uri` the login was started with, if it had one.
    pub redirect_uri: Option<String>,
}

/// What redeeming did.
#[derive(Debug, Serialize, ToSchema)]
pub struct RedeemResult {
    /// You were added to the group now.
    pub joined: bool,
    /// You were in the group already (no use of the link was taken).
    pub already_member: bool,
    /// Lark holds the add for the group administrator's approval.
    pub pending_approval: bool,
    /// The Lark chat (`oc_…`).
    pub chat_id: String,
    /// Your name as Lark gave it.
    pub name: String,
}

impl From<Redeemed> for RedeemResult {
    fn from(r: Redeemed) -> Self {
        match r {
            Redeemed::Joined { chat_id, name, pending_approval } => {
                Self { joined: true, already_member: false, pending_approval, chat_id, name }
            }
            Redeemed::AlreadyMember { chat_id, name } => {
                Self { joined: false, already_member: true, pending_approval: false, chat_id, name }
            }
        }
    }
}

/// Path parameters of the public routes.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct TokenPath {
    /// The link's token (`ldi_…`).
    pub token: String,
}

/// Create a 24-hour invite link to a group (staff).
#[utoipa::path(post, path = "/api/v1/groups/{id}/invites", tag = "groups", request_body = CreateInvite,
    params(("id" = Uuid, Path, description = "Group id")), security(("bearer" = [])),
    responses((status = 201, body = InviteCreated), (status = 404, body = Problem), (status = 409, body = Problem),
        (status = 422, body = Problem)))]
pub async fn create(
    state: web::Data<AppState>,
    caller: Caller,
    id: IdPath<Uuid>,
    body: Body<CreateInvite>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Action::InviteMembers, "invite members")?;
    let max_uses = check_max_uses(body.into_inner().max_uses)?;
    let issued = invites(&state).create(id.0, max_uses, caller.actor()).await?;
    let info = InviteDto::new(issued.invite, state.clock.now());
    Ok(HttpResponse::Created().json(InviteCreated { info, url: issued.url, token: issued.token }))
}

/// List a group's live invite links, oldest first (staff). Tokens are never shown.
#[utoipa::path(get, path = "/api/v1/groups/{id}/invites", tag = "groups",
    params(("id" = Uuid, Path, description = "Group id"), PageParams), security(("bearer" = [])),
    responses((status = 200, body = InviteList), (status = 404, body = Problem)))]
pub async fn list(
    state: web::Data<AppState>,
    caller: Caller,
    id: IdPath<Uuid>,
    page: Query<PageParams>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Action::InviteMembers, "invite members")?;
    let request = page.0.to_request(&desk_store::Store::invites_scope(id.0))?;
    let page = invites(&state).list(id.0, &request).await?;
    let now = state.clock.now();
    Ok(HttpResponse::Ok().json(InviteList {
        items: page.items.into_iter().map(|i| InviteDto::new(i, now)).collect(),
        next_cursor: page.next_cursor,
    }))
}

/// Revoke an invite link (staff). It stops working at once; revoking again changes nothing.
#[utoipa::path(post, path = "/api/v1/invites/{id}/revoke", tag = "groups",
    params(("id" = Uuid, Path, description = "Invite id")), security(("bearer" = [])),
    responses((status = 200, body = InviteDto), (status = 404, body = Problem)))]
pub async fn revoke(
    state: web::Data<AppState>,
    caller: Caller,
    id: IdPath<InviteId>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Action::InviteMembers, "invite members")?;
    let invite = invites(&state).revoke(id.0).await?;
    Ok(HttpResponse::Ok().json(InviteDto::new(invite, state.clock.now())))
}

/// What an invite link is for (no bearer token: the holder of the link is not a desk user).
#[utoipa::path(get, path = "/api/v1/invites/{token}", tag = "invites", params(TokenPath),
    responses((status = 200, body = InviteViewDto), (status = 404, body = Problem, description = "invite_not_found"),
        (status = 410, body = Problem, description = "invite_expired, invite_revoked or invite_used_up")))]
pub async fn look(state: web::Data<AppState>, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let view = invites(&state).look(token_of(&req)).await?;
    Ok(HttpResponse::Ok().insert_header(("cache-control", "no-store")).json(InviteViewDto::from(view)))
}

/// Redeem an invite link as the Lark user who just logged in: adds them to the group's chat
/// (no bearer token). Unknown: 404; expired, revoked or used up: 410; the group gone or not
/// made yet: 409; already in the group: 200 with `already_member`.
#[utoipa::path(post, path = "/api/v1/invites/{token}/redeem", tag = "invites", params(TokenPath),
    request_body = RedeemInvite,
    responses((status = 200, body = RedeemResult), (status = 404, body = Problem, description = "invite_not_found"),
        (status = 409, body = Problem, description = "group_gone, group_not_ready, lark_refused_member, …"),
        (status = 410, body = Problem, description = "invite_expired, invite_revoked or invite_used_up"),
        (status = 422, body = Problem, description = "login_code_invalid, login_redirect_mismatch, validation_failed"),
        (status = 502, body = Problem), (status = 503, body = Problem)))]
pub async fn redeem(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: Result<Body<RedeemInvite>, ApiError>,
) -> Result<HttpResponse, ApiError> {
    let invites = invites(&state);
    let token = token_of(&req);
    let body = match body {
        Ok(body) => body.into_inner(),
        Err(e) => {
            // What the link is decides first: an unknown link is a 404 whatever was sent.
            invites.check(token).await?;
            return Err(e);
        }
    };
    let mut v = Validation::new();
    let code = v.required_line("code", &body.code, 1024);
    let redirect_uri = v.optional_line("redirect_uri", body.redirect_uri.as_deref(), 2048);
    let (code, redirect_uri) = v.finish((code, redirect_uri))?;
    let redeemed = invites.redeem(token, &code, redirect_uri.as_deref()).await?;
    Ok(HttpResponse::Ok().json(RedeemResult::from(redeemed)))
}
