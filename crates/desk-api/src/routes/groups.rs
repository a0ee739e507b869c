//! `/api/v1/groups`: main and ticket groups as Lark chats (state, chat id, members, what
//! went wrong), and `/api/v1/orgs/{id}/main-group`: creating or binding an organisation's
//! main service group. The work is the group manager's; these handlers only route.
#![expect(
    unused_qualifications,
    reason = "utoipa's `params(Type)` expansion qualifies the type with the span of our tokens"
)]

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use desk_core::{Action, OrgId, Validation};
use desk_store::{ChatKind, ChatState, Group, GroupFilter, Store};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::PageParams;
use crate::auth::Caller;
use crate::error::{ApiError, Problem};
use crate::extract::{Body, IdPath, Query};
use crate::state::AppState;

/// A group: an organisation's main service group or a ticket's group, and where it stands
/// in Lark.
#[derive(Debug, Serialize, ToSchema)]
pub struct GroupDto {
    /// Id (also Lark's `uuid` when the desk creates the chat).
    pub id: Uuid,
    /// `main` or `ticket`.
    pub kind: String,
    /// `requested` (waiting to be made in Lark), `active`, `failed` (Lark refused; see
    /// `last_error`) or `gone` (disbanded in Lark).
    pub state: String,
    /// The organisation.
    pub org_id: Uuid,
    /// The ticket, for a ticket group.
    pub ticket_id: Option<Uuid>,
    /// The ticket's number, for a ticket group.
    pub ticket_number: Option<i64>,
    /// The integration (Lark app) it lives in.
    pub integration_id: Option<String>,
    /// Lark's chat id (`oc_…`), once it exists.
    pub chat_id: Option<String>,
    /// Its name in Lark.
    pub name: String,
    /// Whether it holds people of two Lark tenants (an external group).
    pub external: bool,
    /// People in it, as far as the desk knows.
    pub members: u64,
    /// Attempts at making it in Lark.
    pub attempts: u32,
    /// What went wrong last, in words that say what to do.
    pub last_error: Option<String>,
    /// A stable code for `last_error` when someone has to act (`lark_external_chat_disabled`, …).
    pub error_code: Option<String>,
    /// When the next attempt is due.
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// The card the bot posted in it.
    pub card_message_id: Option<String>,
    /// Work queued on it (people to add, the card to refresh).
    pub pending_work: u64,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
}

impl From<Group> for GroupDto {
    fn from(g: Group) -> Self {
        Self {
            id: g.id,
            kind: g.kind.as_str().to_owned(),
            state: g.state.as_str().to_owned(),
            org_id: g.org_id.as_uuid(),
            ticket_id: g.ticket_id.map(|t| t.as_uuid()),
            ticket_number: g.ticket_number,
            integration_id: g.integration_id,
            chat_id: g.chat_id,
            name: g.name,
            external: g.external,
            members: g.members,
            attempts: g.attempts,
            last_error: g.last_error,
            error_code: g.error_code,
            next_attempt_at: g.next_attempt_at,
            card_message_id: g.card_message_id,
            pending_work: g.pending_work,
            created_at: g.created_at,
            updated_at: g.updated_at,
        }
    }
}

/// A page of groups.
#[derive(Debug, Serialize, ToSchema)]
pub struct GroupList {
    /// The groups, oldest first.
    pub items: Vec<GroupDto>,
    /// Pass as `cursor` for the next page; null on the last.
    pub next_cursor: Option<String>,
}

/// Filters for the group list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct GroupQuery {
    /// Of this organisation.
    pub org_id: Option<Uuid>,
    /// `main` or `ticket`.
    pub kind: Option<String>,
    /// `requested`, `active`, `failed` or `gone`.
    pub state: Option<String>,
    /// Rows per page, 1–200.
    pub limit: Option<u64>,
    /// Cursor from the previous page.
    pub cursor: Option<String>,
}

/// The main service group to create or bind.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MainGroup {
    /// An existing Lark chat (`oc_…`) to bind; absent to create a new one through Lark with
    /// the organisation's customer members, its TAM and the support staff (those bound to
    /// Lark), the bot as manager.
    pub chat_id: Option<String>,
}

/// List groups.
#[utoipa::path(get, path = "/api/v1/groups", tag = "groups", params(GroupQuery), security(("bearer" = [])),
    responses((status = 200, body = GroupList), (status = 400, body = Problem), (status = 401, body = Problem)))]
pub async fn list(
    state: web::Data<AppState>,
    caller: Caller,
    query: Query<GroupQuery>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Action::ReadOrg, "read groups")?;
    let q = query.0;
    let kind = match q.kind.as_deref() {
        None => None,
        Some(k) => Some(ChatKind::parse(k).ok_or_else(|| ApiError::bad_query("kind", "must be main or ticket"))?),
    };
    let chat_state = match q.state.as_deref() {
        None => None,
        Some(s) => Some(
            ChatState::parse(s)
                .ok_or_else(|| ApiError::bad_query("state", "must be requested, active, failed or gone"))?,
        ),
    };
    let page = PageParams { limit: q.limit, cursor: q.cursor }.to_request(Store::GROUPS_SCOPE)?;
    let filter = GroupFilter { org_id: q.org_id.map(OrgId::from_uuid), kind, state: chat_state };
    let page = state.store.list_groups(&filter, &page).await?;
    Ok(HttpResponse::Ok()
        .json(GroupList { items: page.items.into_iter().map(GroupDto::from).collect(), next_cursor: page.next_cursor }))
}

/// Read a group.
#[utoipa::path(get, path = "/api/v1/groups/{id}", tag = "groups", params(("id" = Uuid, Path, description = "Group id")),
    security(("bearer" = [])), responses((status = 200, body = GroupDto), (status = 404, body = Problem)))]
pub async fn get(state: web::Data<AppState>, caller: Caller, id: IdPath<Uuid>) -> Result<HttpResponse, ApiError> {
    caller.require(Action::ReadOrg, "read groups")?;
    Ok(HttpResponse::Ok().json(GroupDto::from(state.store.group(id.0).await?)))
}

/// Try a failed group again, once what stopped it is fixed (admins and TAMs). A 409
/// `not_failed` for a group that has not failed.
#[utoipa::path(post, path = "/api/v1/groups/{id}/retry", tag = "groups",
    params(("id" = Uuid, Path, description = "Group id")), security(("bearer" = [])),
    responses((status = 200, body = GroupDto), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem)))]
pub async fn retry(state: web::Data<AppState>, caller: Caller, id: IdPath<Uuid>) -> Result<HttpResponse, ApiError> {
    caller.require(Action::WriteOrg, "retry groups")?;
    Ok(HttpResponse::Ok().json(GroupDto::from(state.groups.retry(id.0).await?)))
}

/// Create the organisation's main service group through Lark (`{}`), or bind an existing
/// chat (`{"chat_id": "oc_…"}`); the main-group card (Create Ticket, Service Desk) is posted
/// in it. Admins and TAMs. Created at once: 201 with the active group; Lark did not answer
/// (or the integration is `off`): 202, the group manager keeps trying; Lark refused: 409
/// with what to fix (e.g. `lark_external_chat_disabled`), recorded on the group.
#[utoipa::path(post, path = "/api/v1/orgs/{id}/main-group", tag = "groups", request_body = MainGroup,
    params(("id" = Uuid, Path, description = "Organisation id")), security(("bearer" = [])),
    responses((status = 201, body = GroupDto), (status = 202, body = GroupDto), (status = 200, body = GroupDto),
        (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem),
        (status = 422, body = Problem)))]
pub async fn main_group(
    state: web::Data<AppState>,
    caller: Caller,
    id: IdPath<OrgId>,
    body: Body<MainGroup>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Action::WriteOrg, "create main groups")?;
    let mut v = Validation::new();
    let chat_id = v.optional_line("chat_id", body.into_inner().chat_id.as_deref(), 128);
    if chat_id.as_deref().is_some_and(|c| !c.starts_with("oc_")) {
        v.fail("chat_id", "must be a Lark chat id like oc_a0553eda9014c201e6969b478895c230");
    }
    v.finish(())?;
    let group = match chat_id {
        Some(chat) => {
            return Ok(HttpResponse::Ok().json(GroupDto::from(state.groups.bind_main_group(id.0, &chat).await?)));
        }
        None => state.groups.create_main_group(id.0).await?,
    };
    let mut reply = if group.state == ChatState::Active { HttpResponse::Created() } else { HttpResponse::Accepted() };
    Ok(reply.json(GroupDto::from(group)))
}
