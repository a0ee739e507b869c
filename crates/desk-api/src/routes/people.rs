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

// ---- binding Lark people to desk accounts ---------------------------------------------

/// Most people one binding request may name.
const BIND_IDS_MAX: usize = 10_000;

/// A person to create from a Lark user's profile.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateFromLark {
    /// The Lark user (in the integration's app).
    pub open_id: String,
    /// `staff` or `customer`.
    pub kind: String,
    /// Required for customers: their organisation.
    pub org_id: Option<Uuid>,
    /// Required for staff: `admin`, `tam` or `engineer`.
    pub role: Option<String>,
    /// The integration whose app knows the user; default: the organisation's own app,
    /// else `default`.
    pub integration_id: Option<String>,
}

/// Whom to bind automatically (every field optional; send `{}` for everyone).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BindPeople {
    /// Ask this integration's app; default: each person's organisation's own app, else
    /// `default` (staff: `default`).
    pub integration_id: Option<String>,
    /// These people; default: every active person with no Lark binding and an e-mail or mobile.
    pub person_ids: Option<Vec<Uuid>>,
}

/// A person bound.
#[derive(Debug, Serialize, ToSchema)]
pub struct BindMatch {
    /// The person.
    pub person_id: Uuid,
    /// The Lark user they are now bound to.
    pub open_id: String,
    /// `email` or `mobile`: which key found them.
    pub by: String,
}

/// A person left unbound.
#[derive(Debug, Serialize, ToSchema)]
pub struct BindMiss {
    /// The person.
    pub person_id: Uuid,
    /// Why.
    pub reason: String,
}

/// Something ambiguous that nobody was bound for; a person has to settle it.
#[derive(Debug, Serialize, ToSchema)]
pub struct BindConflict {
    /// The Lark user concerned, when one is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub open_id: Option<String>,
    /// The e-mail concerned, when one is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// The mobile concerned, when one is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mobile: Option<String>,
    /// The desk people concerned.
    pub person_ids: Vec<Uuid>,
    /// What is wrong.
    pub reason: String,
}

/// What automatic binding did.
#[derive(Debug, Serialize, ToSchema)]
pub struct BindReport {
    /// Bound now (all in one transaction).
    pub matched: Vec<BindMatch>,
    /// Left unbound, with why.
    pub unmatched: Vec<BindMiss>,
    /// Ambiguities, reported and never guessed: two people with one e-mail or mobile, a
    /// Lark user bound to someone else already, e-mail and mobile naming different Lark users.
    pub conflicts: Vec<BindConflict>,
}

impl From<desk_core::binding::BindingPlan> for BindReport {
    fn from(p: desk_core::binding::BindingPlan) -> Self {
        Self {
            matched: p
                .matched
                .into_iter()
                .map(|m| BindMatch {
                    person_id: m.person_id.as_uuid(),
                    open_id: m.open_id,
                    by: m.by.as_str().to_owned(),
                })
                .collect(),
            unmatched: p
                .unmatched
                .into_iter()
                .map(|m| BindMiss { person_id: m.person_id.as_uuid(), reason: m.reason })
                .collect(),
            conflicts: p
                .conflicts
                .into_iter()
                .map(|c| BindConflict {
                    open_id: c.open_id,
                    email: c.email,
                    mobile: c.mobile,
                    person_ids: c.person_ids.iter().map(PersonId::as_uuid).collect(),
                    reason: c.reason,
                })
                .collect(),
        }
    }
}

impl TryFrom<BindPeople> for group_manager::binding::AutoBind {
    type Error = ApiError;
    fn try_from(b: BindPeople) -> Result<Self, ApiError> {
        if b.person_ids.as_ref().is_some_and(|ids| ids.len() > BIND_IDS_MAX) {
            return Err(ApiError::invalid("person_ids", format!("at most {BIND_IDS_MAX} people per request")));
        }
        Ok(Self {
            integration_id: b.integration_id,
            person_ids: b.person_ids.map(|ids| ids.into_iter().map(PersonId::from_uuid).collect()),
        })
    }
}

impl From<CreateFromLark> for group_manager::binding::CreateFromLark {
    fn from(b: CreateFromLark) -> Self {
        Self {
            open_id: b.open_id,
            kind: b.kind,
            role: b.role,
            org_id: b.org_id.map(OrgId::from_uuid),
            integration_id: b.integration_id,
        }
    }
}

fn binder(state: &AppState) -> group_manager::binding::Binder {
    group_manager::binding::Binder::new(state.store.clone(), state.lanes.clone(), state.clock.clone())
}

/// Create a person from a Lark user's profile (name, e-mail, mobile), bound to that user.
/// Reads the profile with Lark's contact API (not billed).
#[utoipa::path(post, path = "/api/v1/people/from-lark", tag = "people", request_body = CreateFromLark,
    security(("bearer" = [])),
    responses((status = 201, body = PersonDto), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem),
        (status = 502, body = Problem), (status = 503, body = Problem)))]
pub async fn from_lark(
    state: web::Data<AppState>,
    caller: Caller,
    body: Body<CreateFromLark>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Action::WritePerson, "create people")?;
    let person = binder(&state).create_from_lark(body.into_inner().into()).await?;
    Ok(HttpResponse::Created().json(PersonDto::from(person)))
}

/// Bind people to Lark users by e-mail and by mobile, through Lark's contact look-up (in
/// batches of 50 e-mails and 50 mobiles; not billed). Everyone matched is bound in one
/// transaction; the report says who matched, who did not and why, and what is ambiguous.
#[utoipa::path(post, path = "/api/v1/people/bind", tag = "people", request_body = BindPeople,
    security(("bearer" = [])),
    responses((status = 200, body = BindReport), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem),
        (status = 502, body = Problem), (status = 503, body = Problem)))]
pub async fn bind(
    state: web::Data<AppState>,
    caller: Caller,
    body: Body<BindPeople>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Action::WritePerson, "bind people to Lark")?;
    let request = group_manager::binding::AutoBind::try_from(body.into_inner())?;
    let report = binder(&state).auto(request).await?;
    Ok(HttpResponse::Ok().json(BindReport::from(report)))
}
