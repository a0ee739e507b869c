//! `/api/v1/people`: staff and customer members, with their Lark identities.
#![expect(
    unused_qualifications,
    reason = "utoipa's `params(Type)` expansion qualifies the type with the span of our tokens"
)]

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use desk_core::{
    Action, NewPerson, OrgId, Person, PersonId, PersonInput, PersonKind, PersonPatch, PersonPatchInput, QuietHours,
    Role,
};
use desk_store::PersonFilter;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::PageParams;
use crate::auth::Caller;
use crate::error::{ApiError, Problem};
use crate::extract::{Body, IdPath, Query, double_option};
use crate::state::AppState;

/// Hours of local time (on the person's `time_zone`) in which notifications wait.
/// `end` before `start` crosses midnight.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QuietHoursDto {
    /// `HH:MM`, 24-hour; the quiet starts at this minute.
    #[schema(example = "22:00")]
    pub start: String,
    /// `HH:MM`, 24-hour; the quiet has ended at this minute. Must differ from `start`.
    #[schema(example = "07:00")]
    pub end: String,
}

impl From<QuietHours> for QuietHoursDto {
    fn from(q: QuietHours) -> Self {
        Self { start: q.start_str(), end: q.end_str() }
    }
}

/// A person.
#[derive(Debug, Serialize, ToSchema)]
pub struct PersonDto {
    /// Id.
    pub id: Uuid,
    /// `staff` or `customer`.
    pub kind: String,
    /// Staff role: `admin`, `tam` or `engineer`; null for customers.
    pub role: Option<String>,
    /// The customer's organisation; null for staff.
    pub org_id: Option<Uuid>,
    /// Display name.
    pub name: String,
    /// E-mail (lower case).
    pub email: Option<String>,
    /// Mobile, international form.
    pub mobile: Option<String>,
    /// Lark open_id.
    pub lark_open_id: Option<String>,
    /// Lark union_id.
    pub lark_union_id: Option<String>,
    /// Whether the person may act and be assigned.
    pub active: bool,
    /// Notification language: `en` or `zh`.
    pub locale: String,
    /// IANA time zone name (`Asia/Shanghai`); quiet hours are read on this clock.
    pub time_zone: String,
    /// When notifications wait; null when they never do.
    pub quiet_hours: Option<QuietHoursDto>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
}

impl From<Person> for PersonDto {
    fn from(p: Person) -> Self {
        Self {
            id: p.id.as_uuid(),
            kind: p.kind.as_str().to_owned(),
            role: p.role.map(|r| r.as_str().to_owned()),
            org_id: p.org_id.map(|o| o.as_uuid()),
            name: p.name,
            email: p.email,
            mobile: p.mobile,
            lark_open_id: p.lark_open_id,
            lark_union_id: p.lark_union_id,
            active: p.active,
            locale: p.locale.as_str().to_owned(),
            time_zone: p.time_zone,
            quiet_hours: p.quiet_hours.map(QuietHoursDto::from),
            created_at: p.created_at,
            updated_at: p.updated_at,
        }
    }
}

/// A new person.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreatePerson {
    /// `staff` or `customer`.
    pub kind: String,
    /// Required for staff: `admin`, `tam` or `engineer`.
    pub role: Option<String>,
    /// Required for customers: their organisation.
    pub org_id: Option<Uuid>,
    /// Display name.
    pub name: String,
    /// E-mail.
    pub email: Option<String>,
    /// Mobile in international form (`+86…`).
    pub mobile: Option<String>,
    /// Lark open_id (unique).
    pub lark_open_id: Option<String>,
    /// Lark union_id.
    pub lark_union_id: Option<String>,
    /// Notification language: `en` (default) or `zh`; `en-US`, `zh-CN` and the like are
    /// read by their language.
    pub locale: Option<String>,
    /// IANA time zone name such as `Asia/Shanghai`; `UTC` when absent.
    pub time_zone: Option<String>,
    /// When notifications wait (none when absent).
    pub quiet_hours: Option<QuietHoursDto>,
}

/// Changes to a person; `null` clears an optional field.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdatePerson {
    /// New name.
    pub name: Option<String>,
    /// New role (staff only).
    pub role: Option<String>,
    /// New e-mail, or null.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub email: Option<Option<String>>,
    /// New mobile, or null.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub mobile: Option<Option<String>>,
    /// New open_id, or null to unbind.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub lark_open_id: Option<Option<String>>,
    /// New union_id, or null.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub lark_union_id: Option<Option<String>>,
    /// Deactivate (false) or reactivate (true).
    pub active: Option<bool>,
    /// New notification language.
    pub locale: Option<String>,
    /// New IANA time zone name.
    pub time_zone: Option<String>,
    /// New quiet hours, or null to clear them.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<QuietHoursDto>)]
    pub quiet_hours: Option<Option<QuietHoursDto>>,
}

/// A page of people.
#[derive(Debug, Serialize, ToSchema)]
pub struct PersonList {
    /// The people.
    pub items: Vec<PersonDto>,
    /// Pass as `cursor` for the next page; null on the last.
    pub next_cursor: Option<String>,
}

/// Filters for the people list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PersonQuery {
    /// Members of this organisation.
    pub org_id: Option<Uuid>,
    /// `staff` or `customer`.
    pub kind: Option<String>,
    /// Staff role.
    pub role: Option<String>,
    /// Text in the name or e-mail.
    pub q: Option<String>,
    /// Rows per page, 1–200.
    pub limit: Option<u64>,
    /// Cursor from the previous page.
    pub cursor: Option<String>,
}

impl TryFrom<CreatePerson> for NewPerson {
    type Error = ApiError;
    fn try_from(b: CreatePerson) -> Result<Self, ApiError> {
        Ok(NewPerson::parse(PersonInput {
            kind: &b.kind,
            role: b.role.as_deref(),
            org_id: b.org_id.map(OrgId::from_uuid),
            name: &b.name,
            email: b.email.as_deref(),
            mobile: b.mobile.as_deref(),
            lark_open_id: b.lark_open_id.as_deref(),
            lark_union_id: b.lark_union_id.as_deref(),
            locale: b.locale.as_deref(),
            time_zone: b.time_zone.as_deref(),
            quiet_hours: b.quiet_hours.as_ref().map(|q| (q.start.as_str(), q.end.as_str())),
        })?)
    }
}

impl TryFrom<UpdatePerson> for PersonPatch {
    type Error = ApiError;
    fn try_from(b: UpdatePerson) -> Result<Self, ApiError> {
        Ok(PersonPatch::parse(PersonPatchInput {
            name: b.name.as_deref(),
            role: b.role.as_deref(),
            email: b.email.as_ref().map(Option::as_deref),
            mobile: b.mobile.as_ref().map(Option::as_deref),
            lark_open_id: b.lark_open_id.as_ref().map(Option::as_deref),
            lark_union_id: b.lark_union_id.as_ref().map(Option::as_deref),
            active: b.active,
            locale: b.locale.as_deref(),
            time_zone: b.time_zone.as_deref(),
            quiet_hours: b.quiet_hours.as_ref().map(|q| q.as_ref().map(|q| (q.start.as_str(), q.end.as_str()))),
        })?)
    }
}

/// Create a person (staff or customer member).
#[utoipa::path(post, path = "/api/v1/people", tag = "people", request_body = CreatePerson, security(("bearer" = [])),
    responses((status = 201, body = PersonDto), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn create(
    state: web::Data<AppState>,
    caller: Caller,
    body: Body<CreatePerson>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Action::WritePerson, "create people")?;
    let new = NewPerson::try_from(body.into_inner())?;
    let person = state.store.create_person(new, state.clock.now()).await?;
    Ok(HttpResponse::Created().json(PersonDto::from(person)))
}

/// List people (oldest first).
#[utoipa::path(get, path = "/api/v1/people", tag = "people", params(PersonQuery), security(("bearer" = [])),
    responses((status = 200, body = PersonList), (status = 400, body = Problem), (status = 401, body = Problem)))]
pub async fn list(
    state: web::Data<AppState>,
    caller: Caller,
    query: Query<PersonQuery>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Action::ReadPerson, "read people")?;
    let q = query.0;
    let page = PageParams { limit: q.limit, cursor: q.cursor }.to_request("people")?;
    let filter = PersonFilter {
        org_id: q.org_id.map(OrgId::from_uuid),
        kind: q
            .kind
            .as_deref()
            .map(str::parse::<PersonKind>)
            .transpose()
            .map_err(|_| ApiError::bad_query("kind", "must be staff or customer"))?,
        role: q
            .role
            .as_deref()
            .map(str::parse::<Role>)
            .transpose()
            .map_err(|_| ApiError::bad_query("role", "must be one of admin, tam, engineer"))?,
        q: q.q.filter(|s| !s.trim().is_empty()),
    };
    let page = state.store.list_people(&filter, &page).await?;
    Ok(HttpResponse::Ok().json(PersonList {
        items: page.items.into_iter().map(PersonDto::from).collect(),
        next_cursor: page.next_cursor,
    }))
}

/// Read a person.
#[utoipa::path(get, path = "/api/v1/people/{id}", tag = "people", params(("id" = Uuid, Path, description = "Person id")),
    security(("bearer" = [])), responses((status = 200, body = PersonDto), (status = 404, body = Problem)))]
pub async fn get(state: web::Data<AppState>, caller: Caller, id: IdPath<PersonId>) -> Result<HttpResponse, ApiError> {
    caller.require(Action::ReadPerson, "read people")?;
    Ok(HttpResponse::Ok().json(PersonDto::from(state.store.person(id.0).await?)))
}

/// Change a person: name, role, contact details, Lark binding, active flag, notification
/// preferences.
#[utoipa::path(patch, path = "/api/v1/people/{id}", tag = "people", request_body = UpdatePerson,
    params(("id" = Uuid, Path, description = "Person id")), security(("bearer" = [])),
    responses((status = 200, body = PersonDto), (status = 404, body = Problem), (status = 409, body = Problem),
        (status = 422, body = Problem)))]
pub async fn update(
    state: web::Data<AppState>,
    caller: Caller,
    id: IdPath<PersonId>,
    body: Body<UpdatePerson>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Action::WritePerson, "change people")?;
    let patch = PersonPatch::try_from(body.into_inner())?;
    let person = state.store.update_person(id.0, patch, state.clock.now()).await?;
    Ok(HttpResponse::Ok().json(PersonDto::from(person)))
}
