//! `/api/v1/groups/{id}/members`: who is in a group (the customer's colleagues, the
//! service team, and members the desk cannot place), and adding and removing people
//! through Lark. Staff of every role may; customers act in Lark itself.

use actix_web::{HttpResponse, web};
use desk_core::membership::Placement;
use desk_core::{Action, DomainError, PersonId, Validation};
use group_manager::members::{AddOutcome, MemberTarget, Members, PlacedMember, Roster};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::Caller;
use crate::error::{ApiError, Problem};
use crate::extract::{Body, IdPath};
use crate::state::AppState;

/// Longest open_id accepted (Lark's are `ou_` + 32 hex digits).
const OPEN_ID_MAX: usize = 128;

/// One member of a group.
#[derive(Debug, Serialize, ToSchema)]
pub struct MemberDto {
    /// Their open_id in the group's Lark app.
    pub open_id: String,
    /// The desk person bound to that open_id; null when nobody is.
    pub person_id: Option<Uuid>,
    /// The desk person's name, else the name Lark gave.
    pub name: String,
    /// `admin`, `tam` or `engineer` for the service team; `customer` for colleagues;
    /// null for members the desk cannot place.
    pub role: Option<String>,
    /// Their Lark tenant, when Lark said.
    pub tenant_key: Option<String>,
    /// For members the desk cannot place: why (and so what would fix it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl From<PlacedMember> for MemberDto {
    fn from(m: PlacedMember) -> Self {
        let (role, reason) = match m.placement {
            Placement::ServiceTeam(role) => (Some(role.as_str().to_owned()), None),
            Placement::Colleague => (Some("customer".to_owned()), None),
            Placement::Unknown(why) => (None, Some(why.to_owned())),
        };
        Self {
            open_id: m.open_id,
            person_id: m.person_id.map(|p| p.as_uuid()),
            name: m.name,
            tenant_key: m.tenant_key,
            role,
            reason,
        }
    }
}

/// A group's members, each part by name.
#[derive(Debug, Serialize, ToSchema)]
pub struct MemberList {
    /// The customer organisation's own people: its customers, and Lark users of its tenant.
    pub colleagues: Vec<MemberDto>,
    /// Vendor staff, with their roles.
    pub service_team: Vec<MemberDto>,
    /// Members the desk cannot place; each says why.
    pub unknown: Vec<MemberDto>,
}

impl From<Roster> for MemberList {
    fn from(r: Roster) -> Self {
        let dto = |v: Vec<PlacedMember>| v.into_iter().map(MemberDto::from).collect();
        Self { colleagues: dto(r.colleagues), service_team: dto(r.service_team), unknown: dto(r.unknown) }
    }
}

/// Someone to add: a desk person bound to Lark, or a Lark user by open_id (one of the two).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddMember {
    /// A desk person (staff, or a customer of the group's organisation) bound to Lark.
    pub person_id: Option<Uuid>,
    /// A Lark user of the group's app.
    pub open_id: Option<String>,
}

impl TryFrom<AddMember> for MemberTarget {
    type Error = ApiError;
    fn try_from(b: AddMember) -> Result<Self, ApiError> {
        match (b.person_id, b.open_id) {
            (Some(p), None) => Ok(Self::Person(PersonId::from_uuid(p))),
            (None, Some(o)) => {
                let mut v = Validation::new();
                let open_id = v.required_line("open_id", &o, OPEN_ID_MAX);
                Ok(v.finish(Self::OpenId(open_id))?)
            }
            (Some(_), Some(_)) => Err(DomainError::invalid("", "give person_id or open_id, not both").into()),
            (None, None) => Err(DomainError::invalid("", "person_id or open_id is required").into()),
        }
    }
}

/// What a change did, and to whom.
#[derive(Debug, Serialize, ToSchema)]
pub struct MemberChanged {
    /// `added`, `already_member`, `pending_approval` (the group needs an admin's approval
    /// in Lark; they are listed once approved) or `removed`.
    pub status: String,
    /// Which part of the list they are (or were) in: `colleagues`, `service_team` or `unknown`.
    pub side: String,
    /// The member.
    pub member: MemberDto,
}

impl MemberChanged {
    fn new(status: &str, m: PlacedMember) -> Self {
        let side = match m.placement {
            Placement::Colleague => "colleagues",
            Placement::ServiceTeam(_) => "service_team",
            Placement::Unknown(_) => "unknown",
        };
        Self { status: status.to_owned(), side: side.to_owned(), member: MemberDto::from(m) }
    }
}

/// The member in a member path.
#[derive(Debug, Deserialize)]
pub struct MemberPath {
    /// Their open_id.
    pub open_id: String,
}

fn members(state: &AppState) -> Members {
    Members::new(state.store.clone(), state.lanes.clone(), state.clock.clone())
}

/// List a group's members: the customer's colleagues, the service team (with roles), and
/// those the desk cannot place (with why). Read from what Lark told the desk; no Lark call.
#[utoipa::path(get, path = "/api/v1/groups/{id}/members", tag = "groups",
    params(("id" = Uuid, Path, description = "Group id")), security(("bearer" = [])),
    responses((status = 200, body = MemberList), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem)))]
pub async fn list(state: web::Data<AppState>, caller: Caller, id: IdPath<Uuid>) -> Result<HttpResponse, ApiError> {
    caller.require(Action::ManageMembers, "see group members")?;
    let roster = members(&state).list(id.0).await?;
    Ok(HttpResponse::Ok().json(MemberList::from(roster)))
}

/// Add someone to a group through Lark (one billed call, reserved against the month's
/// budget). On a ticket group the addition goes on the ticket's timeline. 201 when added,
/// 200 when already a member (Lark is not called), 202 when Lark holds it for approval.
#[utoipa::path(post, path = "/api/v1/groups/{id}/members", tag = "groups", request_body = AddMember,
    params(("id" = Uuid, Path, description = "Group id")), security(("bearer" = [])),
    responses((status = 201, body = MemberChanged), (status = 200, body = MemberChanged), (status = 202, body = MemberChanged),
        (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem), (status = 422, body = Problem), (status = 502, body = Problem),
        (status = 503, body = Problem)))]
pub async fn add(
    state: web::Data<AppState>,
    caller: Caller,
    id: IdPath<Uuid>,
    body: Body<AddMember>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Action::ManageMembers, "add group members")?;
    let target = MemberTarget::try_from(body.into_inner())?;
    Ok(match members(&state).add(id.0, target, caller.actor()).await? {
        AddOutcome::Added(m) => HttpResponse::Created().json(MemberChanged::new("added", m)),
        AddOutcome::AlreadyMember(m) => HttpResponse::Ok().json(MemberChanged::new("already_member", m)),
        AddOutcome::PendingApproval(m) => HttpResponse::Accepted().json(MemberChanged::new("pending_approval", m)),
    })
}

/// Remove a member from a group through Lark (one billed call, reserved against the
/// month's budget). On a ticket group the removal goes on the ticket's timeline.
#[utoipa::path(delete, path = "/api/v1/groups/{id}/members/{open_id}", tag = "groups",
    params(("id" = Uuid, Path, description = "Group id"), ("open_id" = String, Path, description = "The member's open_id")),
    security(("bearer" = [])),
    responses((status = 200, body = MemberChanged), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem), (status = 502, body = Problem),
        (status = 503, body = Problem)))]
pub async fn remove(
    state: web::Data<AppState>,
    caller: Caller,
    id: IdPath<Uuid>,
    path: web::Path<MemberPath>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Action::ManageMembers, "remove group members")?;
    let removed = members(&state).remove(id.0, &path.open_id, caller.actor()).await?;
    Ok(HttpResponse::Ok().json(MemberChanged::new("removed", removed)))
}
