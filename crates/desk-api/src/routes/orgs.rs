//! `/api/v1/orgs`: customer organisations and their Service Desk view.
#![expect(
    unused_qualifications,
    reason = "utoipa's `params(Type)` expansion qualifies the type with the span of our tokens"
)]

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use desk_core::{Action, NewOrg, Org, OrgId, OrgPatch, PersonId};
use desk_store::{DeskView, OrgFilter};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::PageParams;
use super::people::PersonDto;
use super::tickets::TicketDto;
use crate::auth::Caller;
use crate::error::{ApiError, Problem};
use crate::extract::{Body, IdPath, Query, double_option};
use crate::state::AppState;

/// A customer organisation.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrgDto {
    /// Id.
    pub id: Uuid,
    /// Display name.
    pub name: String,
    /// The customer's Lark tenant key.
    pub lark_tenant_key: Option<String>,
    /// `standard`, `premium` or `enterprise`.
    pub support_plan: String,
    /// The main service group's Lark chat id.
    pub main_chat_id: Option<String>,
    /// The organisation's TAM.
    pub tam_id: Option<Uuid>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
}

impl From<Org> for OrgDto {
    fn from(o: Org) -> Self {
        Self {
            id: o.id.as_uuid(),
            name: o.name,
            lark_tenant_key: o.lark_tenant_key,
            support_plan: o.support_plan.as_str().to_owned(),
            main_chat_id: o.main_chat_id,
            tam_id: o.tam_id.map(|t| t.as_uuid()),
            created_at: o.created_at,
            updated_at: o.updated_at,
        }
    }
}

/// A new organisation.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateOrg {
    /// Display name (1–200 characters).
    pub name: String,
    /// The customer's Lark tenant key (unique).
    pub lark_tenant_key: Option<String>,
    /// `standard` (default), `premium` or `enterprise`.
    pub support_plan: Option<String>,
    /// An existing Lark chat to use as the main service group.
    pub main_chat_id: Option<String>,
    /// The TAM: an active staff member.
    pub tam_id: Option<Uuid>,
}

/// Changes to an organisation; `null` clears an optional field.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateOrg {
    /// New name.
    pub name: Option<String>,
    /// New tenant key, or null.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub lark_tenant_key: Option<Option<String>>,
    /// New plan.
    pub support_plan: Option<String>,
    /// New main chat id, or null.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub main_chat_id: Option<Option<String>>,
    /// New TAM, or null.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<Uuid>)]
    pub tam_id: Option<Option<Uuid>>,
}

/// A page of organisations.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrgList {
    /// The organisations.
    pub items: Vec<OrgDto>,
    /// Pass as `cursor` for the next page; null on the last.
    pub next_cursor: Option<String>,
}

/// Filters for the organisation list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct OrgQuery {
    /// Text in the name.
    pub q: Option<String>,
    /// Rows per page, 1–200.
    pub limit: Option<u64>,
    /// Cursor from the previous page.
    pub cursor: Option<String>,
}

/// Ticket counts by status.
#[derive(Debug, Serialize, ToSchema)]
pub struct StatusCountsDto {
    /// Open.
    pub open: u64,
    /// In progress.
    pub in_progress: u64,
    /// Waiting on the customer.
    pub waiting_on_customer: u64,
    /// Resolved.
    pub resolved: u64,
    /// Closed.
    pub closed: u64,
}

/// Everyone involved with an organisation, in the two parts the customer sees.
#[derive(Debug, Serialize, ToSchema)]
pub struct Participants {
    /// The customer's own people.
    pub colleagues: Vec<PersonDto>,
    /// The TAM and every staff member assigned to the organisation's tickets.
    pub service_team: Vec<PersonDto>,
}

/// The Enterprise Service Desk of one organisation.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeskDto {
    /// The organisation.
    pub org: OrgDto,
    /// Ticket counts by status.
    pub counts: StatusCountsDto,
    /// Tickets that need work, most severe first (at most 100; the ticket list has all).
    pub active_tickets: Vec<TicketDto>,
    /// Everyone involved.
    pub participants: Participants,
}

impl DeskDto {
    /// The view as the API shows it; tickets' levels are named on the org's own ladder.
    async fn of(state: &AppState, v: DeskView) -> Result<Self, ApiError> {
        let c = v.counts;
        Ok(Self {
            org: v.org.into(),
            counts: StatusCountsDto {
                open: c.open,
                in_progress: c.in_progress,
                waiting_on_customer: c.waiting_on_customer,
                resolved: c.resolved,
                closed: c.closed,
            },
            active_tickets: super::tickets::ticket_dtos(state, v.active_tickets).await?,
            participants: Participants {
                colleagues: v.colleagues.into_iter().map(PersonDto::from).collect(),
                service_team: v.service_team.into_iter().map(PersonDto::from).collect(),
            },
        })
    }
}

impl TryFrom<CreateOrg> for NewOrg {
    type Error = ApiError;
    fn try_from(b: CreateOrg) -> Result<Self, ApiError> {
        Ok(NewOrg::parse(
            &b.name,
            b.lark_tenant_key.as_deref(),
            b.support_plan.as_deref(),
            b.main_chat_id.as_deref(),
            b.tam_id.map(PersonId::from_uuid),
        )?)
    }
}

impl TryFrom<UpdateOrg> for OrgPatch {
    type Error = ApiError;
    fn try_from(b: UpdateOrg) -> Result<Self, ApiError> {
        Ok(OrgPatch::parse(
            b.name.as_deref(),
            b.lark_tenant_key.as_ref().map(Option::as_deref),
            b.support_plan.as_deref(),
            b.main_chat_id.as_ref().map(Option::as_deref),
            b.tam_id.map(|t| t.map(PersonId::from_uuid)),
        )?)
    }
}

/// Create an organisation.
#[utoipa::path(post, path = "/api/v1/orgs", tag = "orgs", request_body = CreateOrg,
    security(("bearer" = [])),
    responses((status = 201, body = OrgDto), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn create(
    state: web::Data<AppState>,
    caller: Caller,
    body: Body<CreateOrg>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Action::WriteOrg, "create organisations")?;
    let new = NewOrg::try_from(body.into_inner())?;
    let org = state.store.create_org(new, state.clock.now()).await?;
    Ok(HttpResponse::Created().json(OrgDto::from(org)))
}

/// List organisations (oldest first).
#[utoipa::path(get, path = "/api/v1/orgs", tag = "orgs", params(OrgQuery), security(("bearer" = [])),
    responses((status = 200, body = OrgList), (status = 400, body = Problem), (status = 401, body = Problem)))]
pub async fn list(
    state: web::Data<AppState>,
    caller: Caller,
    query: Query<OrgQuery>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Action::ReadOrg, "read organisations")?;
    let q = query.0;
    let page = PageParams { limit: q.limit, cursor: q.cursor }.to_request("orgs")?;
    let filter = OrgFilter { q: q.q.filter(|s| !s.trim().is_empty()) };
    let page = state.store.list_orgs(&filter, &page).await?;
    Ok(HttpResponse::Ok()
        .json(OrgList { items: page.items.into_iter().map(OrgDto::from).collect(), next_cursor: page.next_cursor }))
}

/// Read an organisation.
#[utoipa::path(get, path = "/api/v1/orgs/{id}", tag = "orgs", params(("id" = Uuid, Path, description = "Organisation id")),
    security(("bearer" = [])), responses((status = 200, body = OrgDto), (status = 404, body = Problem)))]
pub async fn get(state: web::Data<AppState>, caller: Caller, id: IdPath<OrgId>) -> Result<HttpResponse, ApiError> {
    caller.require(Action::ReadOrg, "read organisations")?;
    Ok(HttpResponse::Ok().json(OrgDto::from(state.store.org(id.0).await?)))
}

/// Change an organisation.
#[utoipa::path(patch, path = "/api/v1/orgs/{id}", tag = "orgs", request_body = UpdateOrg,
    params(("id" = Uuid, Path, description = "Organisation id")), security(("bearer" = [])),
    responses((status = 200, body = OrgDto), (status = 404, body = Problem), (status = 409, body = Problem),
        (status = 422, body = Problem)))]
pub async fn update(
    state: web::Data<AppState>,
    caller: Caller,
    id: IdPath<OrgId>,
    body: Body<UpdateOrg>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Action::WriteOrg, "change organisations")?;
    let patch = OrgPatch::try_from(body.into_inner())?;
    let org = state.store.update_org(id.0, patch, state.clock.now()).await?;
    Ok(HttpResponse::Ok().json(OrgDto::from(org)))
}

/// The Service Desk view: the organisation, ticket counts, tickets that need work and
/// everyone involved.
#[utoipa::path(get, path = "/api/v1/orgs/{id}/desk", tag = "orgs",
    params(("id" = Uuid, Path, description = "Organisation id")), security(("bearer" = [])),
    responses((status = 200, body = DeskDto), (status = 404, body = Problem)))]
pub async fn desk(state: web::Data<AppState>, caller: Caller, id: IdPath<OrgId>) -> Result<HttpResponse, ApiError> {
    caller.require(Action::ReadOrg, "read the service desk")?;
    let view: DeskView = state.store.desk_view(id.0).await?;
    Ok(HttpResponse::Ok().json(DeskDto::of(&state, view).await?))
}
