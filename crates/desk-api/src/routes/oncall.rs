//! `/api/v1/oncall`: on-call schedules (rotations of people with a shift length and a
//! hand-off time on a time zone), their overrides, and who is on call now or at a time.
#![expect(
    unused_qualifications,
    reason = "utoipa's `params(Type)` expansion qualifies the type with the span of our tokens"
)]

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, TimeDelta, Utc};
use desk_core::PersonId;
use desk_core::oncall::{NewOverride, NewSchedule, OnCallSource, RotationInput};
use desk_core::targets::format_duration;
use desk_store::{OnCallNow, OverrideRecord, ScheduleRecord, Store, source_name};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::PageParams;
use super::escalation::{MANAGERS, STAFF, api, require_role};
use crate::auth::Caller;
use crate::error::{ApiError, Problem};
use crate::extract::{Body, IdPath, Query};
use crate::state::AppState;

/// A rotation: people taking turns.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RotationDto {
    /// Staff, in turn order.
    pub people: Vec<Uuid>,
    /// How long each turn lasts, in whole hours: `12h`, `1d`, `7d` (at most `28d`).
    #[schema(example = "7d")]
    pub shift: String,
    /// The local time turns change hands, `HH:MM`.
    #[schema(example = "09:00")]
    pub handoff: String,
    /// The first turn (the first person's) starts at `handoff` on this local date.
    #[schema(example = "2026-11-16")]
    pub start_date: String,
    /// The rotation stops at `handoff` on this local date, if it does.
    pub end_date: Option<String>,
    /// IANA time zone `handoff` and the dates are read on.
    #[schema(example = "Asia/Shanghai")]
    pub time_zone: String,
}

/// A schedule as a client writes it.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScheduleBody {
    /// Display name (unique).
    pub name: String,
    /// Rotations, layered: where several have a turn at once, the later one wins.
    pub rotations: Vec<RotationDto>,
}

/// A stored schedule.
#[derive(Debug, Serialize, ToSchema)]
pub struct ScheduleDto {
    /// Id.
    pub id: Uuid,
    /// Name.
    pub name: String,
    /// Rotations, layered.
    pub rotations: Vec<RotationDto>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
}

impl From<ScheduleRecord> for ScheduleDto {
    fn from(r: ScheduleRecord) -> Self {
        Self {
            id: r.id,
            name: r.name,
            rotations: r
                .rotations
                .into_iter()
                .map(|r| RotationDto {
                    people: r.people.iter().map(|p| p.as_uuid()).collect(),
                    shift: format_duration(TimeDelta::hours(i64::from(r.shift_hours))),
                    handoff: r.handoff.format("%H:%M").to_string(),
                    start_date: r.start_date.to_string(),
                    end_date: r.end_date.map(|d| d.to_string()),
                    time_zone: r.time_zone.name().to_owned(),
                })
                .collect(),
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

impl TryFrom<ScheduleBody> for NewSchedule {
    type Error = ApiError;
    fn try_from(b: ScheduleBody) -> Result<Self, ApiError> {
        let inputs: Vec<RotationInput<'_>> = b
            .rotations
            .iter()
            .map(|r| RotationInput {
                people: r.people.iter().copied().map(PersonId::from_uuid).collect(),
                shift: &r.shift,
                handoff: &r.handoff,
                start_date: &r.start_date,
                end_date: r.end_date.as_deref(),
                time_zone: &r.time_zone,
            })
            .collect();
        Ok(NewSchedule::parse(&b.name, &inputs)?)
    }
}

/// A page of schedules.
#[derive(Debug, Serialize, ToSchema)]
pub struct ScheduleList {
    /// The schedules, oldest first.
    pub items: Vec<ScheduleDto>,
    /// Pass as `cursor` for the next page; null on the last.
    pub next_cursor: Option<String>,
}

/// Someone covering a stretch of a schedule.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OverrideBody {
    /// Who covers (active staff).
    pub person_id: Uuid,
    /// From (RFC 3339).
    pub starts_at: DateTime<Utc>,
    /// Until (RFC 3339), at most 90 days later.
    pub ends_at: DateTime<Utc>,
    /// Why.
    pub note: Option<String>,
}

/// A stored override.
#[derive(Debug, Serialize, ToSchema)]
pub struct OverrideDto {
    /// Id.
    pub id: Uuid,
    /// The schedule.
    pub schedule_id: Uuid,
    /// Who covers.
    pub person_id: Uuid,
    /// From.
    pub starts_at: DateTime<Utc>,
    /// Until.
    pub ends_at: DateTime<Utc>,
    /// Why.
    pub note: Option<String>,
    /// Created.
    pub created_at: DateTime<Utc>,
}

impl From<OverrideRecord> for OverrideDto {
    fn from(o: OverrideRecord) -> Self {
        Self {
            id: o.id,
            schedule_id: o.schedule_id,
            person_id: o.person_id.as_uuid(),
            starts_at: o.starts_at,
            ends_at: o.ends_at,
            note: o.note,
            created_at: o.created_at,
        }
    }
}

/// A schedule's overrides.
#[derive(Debug, Serialize, ToSchema)]
pub struct OverrideList {
    /// Those that end after `from`, earliest first.
    pub items: Vec<OverrideDto>,
}

/// The person on call.
#[derive(Debug, Serialize, ToSchema)]
pub struct OnCallPersonDto {
    /// Their id.
    pub id: Uuid,
    /// Their name.
    pub name: String,
    /// Whether Lark can reach them (a page needs their open_id).
    pub lark_bound: bool,
}

/// Who is on call on a schedule at an instant.
#[derive(Debug, Serialize, ToSchema)]
pub struct OnCallDto {
    /// The schedule.
    pub schedule_id: Uuid,
    /// Its name.
    pub schedule_name: String,
    /// The instant asked about.
    pub at: DateTime<Utc>,
    /// Who; null when nobody is on call then.
    pub person: Option<OnCallPersonDto>,
    /// `rotation` or `override`.
    pub source: Option<String>,
    /// The rotation's index in the schedule, when a rotation.
    pub rotation: Option<usize>,
    /// The override, when one.
    pub override_id: Option<Uuid>,
    /// When their turn (or override) began.
    pub since: Option<DateTime<Utc>>,
    /// When it ends: the next hand-off.
    pub until: Option<DateTime<Utc>>,
}

impl From<OnCallNow> for OnCallDto {
    fn from(n: OnCallNow) -> Self {
        let (rotation, override_id) = match n.on_call.map(|c| c.source) {
            Some(OnCallSource::Rotation(i)) => (Some(i), None),
            Some(OnCallSource::Override(id)) => (None, Some(id)),
            None => (None, None),
        };
        Self {
            schedule_id: n.schedule_id,
            schedule_name: n.schedule_name,
            at: n.at,
            person: n.person.map(|p| OnCallPersonDto {
                id: p.id.as_uuid(),
                name: p.name,
                lark_bound: p.lark_open_id.is_some(),
            }),
            source: n.on_call.map(|c| source_name(c.source).to_owned()),
            rotation,
            override_id,
            since: n.on_call.map(|c| c.since),
            until: n.on_call.map(|c| c.until),
        }
    }
}

/// Who is on call on every schedule.
#[derive(Debug, Serialize, ToSchema)]
pub struct OnCallList {
    /// One per schedule, by name.
    pub items: Vec<OnCallDto>,
}

/// An instant to ask about.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AtQuery {
    /// RFC 3339; now when absent.
    pub at: Option<String>,
}

impl AtQuery {
    fn at(&self, now: DateTime<Utc>) -> Result<DateTime<Utc>, ApiError> {
        match self.at.as_deref() {
            None => Ok(now),
            Some(raw) => DateTime::parse_from_rfc3339(raw)
                .map(|t| t.with_timezone(&Utc))
                .map_err(|_| ApiError::bad_query("at", "must be an RFC 3339 time like 2026-11-21T09:00:00Z")),
        }
    }
}

/// Overrides from an instant on.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct FromQuery {
    /// RFC 3339: overrides that end after it (now when absent).
    pub from: Option<String>,
}

/// Create an on-call schedule (admins and TAMs).
#[utoipa::path(post, path = "/api/v1/oncall/schedules", tag = "oncall", request_body = ScheduleBody, security(("bearer" = [])),
    responses((status = 201, body = ScheduleDto), (status = 403, body = Problem), (status = 409, body = Problem),
        (status = 422, body = Problem)))]
pub async fn create(
    state: web::Data<AppState>,
    caller: Caller,
    body: Body<ScheduleBody>,
) -> Result<HttpResponse, ApiError> {
    require_role(&caller, MANAGERS, "manage on-call schedules")?;
    let new = NewSchedule::try_from(body.into_inner())?;
    let record = state.store.create_schedule(new, state.clock.now()).await.map_err(api)?;
    Ok(HttpResponse::Created().json(ScheduleDto::from(record)))
}

/// List on-call schedules.
#[utoipa::path(get, path = "/api/v1/oncall/schedules", tag = "oncall", params(PageParams), security(("bearer" = [])),
    responses((status = 200, body = ScheduleList), (status = 400, body = Problem), (status = 401, body = Problem)))]
pub async fn list(
    state: web::Data<AppState>,
    caller: Caller,
    page: Query<PageParams>,
) -> Result<HttpResponse, ApiError> {
    require_role(&caller, STAFF, "read on-call schedules")?;
    let page = page.0.to_request(Store::SCHEDULES_SCOPE)?;
    let page = state.store.schedules(&page).await.map_err(api)?;
    Ok(HttpResponse::Ok().json(ScheduleList {
        items: page.items.into_iter().map(ScheduleDto::from).collect(),
        next_cursor: page.next_cursor,
    }))
}

/// Read an on-call schedule.
#[utoipa::path(get, path = "/api/v1/oncall/schedules/{id}", tag = "oncall",
    params(("id" = Uuid, Path, description = "Schedule id")), security(("bearer" = [])),
    responses((status = 200, body = ScheduleDto), (status = 404, body = Problem)))]
pub async fn get(state: web::Data<AppState>, caller: Caller, id: IdPath<Uuid>) -> Result<HttpResponse, ApiError> {
    require_role(&caller, STAFF, "read on-call schedules")?;
    Ok(HttpResponse::Ok().json(ScheduleDto::from(state.store.schedule(id.0).await.map_err(api)?)))
}

/// Replace an on-call schedule's name and rotations; its overrides stay (admins and TAMs).
#[utoipa::path(put, path = "/api/v1/oncall/schedules/{id}", tag = "oncall", request_body = ScheduleBody,
    params(("id" = Uuid, Path, description = "Schedule id")), security(("bearer" = [])),
    responses((status = 200, body = ScheduleDto), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn replace(
    state: web::Data<AppState>,
    caller: Caller,
    id: IdPath<Uuid>,
    body: Body<ScheduleBody>,
) -> Result<HttpResponse, ApiError> {
    require_role(&caller, MANAGERS, "manage on-call schedules")?;
    let new = NewSchedule::try_from(body.into_inner())?;
    let record = state.store.replace_schedule(id.0, new, state.clock.now()).await.map_err(api)?;
    Ok(HttpResponse::Ok().json(ScheduleDto::from(record)))
}

/// Delete an on-call schedule no escalation policy names, with its overrides (admins and TAMs).
#[utoipa::path(delete, path = "/api/v1/oncall/schedules/{id}", tag = "oncall",
    params(("id" = Uuid, Path, description = "Schedule id")), security(("bearer" = [])),
    responses((status = 204), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn delete(state: web::Data<AppState>, caller: Caller, id: IdPath<Uuid>) -> Result<HttpResponse, ApiError> {
    require_role(&caller, MANAGERS, "manage on-call schedules")?;
    state.store.delete_schedule(id.0).await.map_err(api)?;
    Ok(HttpResponse::NoContent().finish())
}

/// Who is on call on a schedule now, or at `at`.
#[utoipa::path(get, path = "/api/v1/oncall/schedules/{id}/on-call", tag = "oncall",
    params(("id" = Uuid, Path, description = "Schedule id"), AtQuery), security(("bearer" = [])),
    responses((status = 200, body = OnCallDto), (status = 400, body = Problem), (status = 404, body = Problem)))]
pub async fn on_call(
    state: web::Data<AppState>,
    caller: Caller,
    id: IdPath<Uuid>,
    query: Query<AtQuery>,
) -> Result<HttpResponse, ApiError> {
    require_role(&caller, STAFF, "read on-call schedules")?;
    let at = query.0.at(state.clock.now())?;
    Ok(HttpResponse::Ok().json(OnCallDto::from(state.store.on_call(id.0, at).await.map_err(api)?)))
}

/// Who is on call on every schedule now, or at `at`.
#[utoipa::path(get, path = "/api/v1/oncall", tag = "oncall", params(AtQuery), security(("bearer" = [])),
    responses((status = 200, body = OnCallList), (status = 400, body = Problem), (status = 401, body = Problem)))]
pub async fn everywhere(
    state: web::Data<AppState>,
    caller: Caller,
    query: Query<AtQuery>,
) -> Result<HttpResponse, ApiError> {
    require_role(&caller, STAFF, "read on-call schedules")?;
    let at = query.0.at(state.clock.now())?;
    let items = state.store.on_call_everywhere(at).await.map_err(api)?.into_iter().map(OnCallDto::from).collect();
    Ok(HttpResponse::Ok().json(OnCallList { items }))
}

/// Add an override: someone covers a stretch (any staff: engineers swap shifts).
#[utoipa::path(post, path = "/api/v1/oncall/schedules/{id}/overrides", tag = "oncall", request_body = OverrideBody,
    params(("id" = Uuid, Path, description = "Schedule id")), security(("bearer" = [])),
    responses((status = 201, body = OverrideDto), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn add_override(
    state: web::Data<AppState>,
    caller: Caller,
    id: IdPath<Uuid>,
    body: Body<OverrideBody>,
) -> Result<HttpResponse, ApiError> {
    require_role(&caller, STAFF, "override on-call schedules")?;
    let b = body.into_inner();
    let new = NewOverride::parse(PersonId::from_uuid(b.person_id), b.starts_at, b.ends_at, b.note.as_deref())?;
    let record = state.store.add_override(id.0, new, state.clock.now()).await.map_err(api)?;
    Ok(HttpResponse::Created().json(OverrideDto::from(record)))
}

/// A schedule's overrides that end after `from` (now when absent).
#[utoipa::path(get, path = "/api/v1/oncall/schedules/{id}/overrides", tag = "oncall",
    params(("id" = Uuid, Path, description = "Schedule id"), FromQuery), security(("bearer" = [])),
    responses((status = 200, body = OverrideList), (status = 400, body = Problem), (status = 404, body = Problem)))]
pub async fn overrides(
    state: web::Data<AppState>,
    caller: Caller,
    id: IdPath<Uuid>,
    query: Query<FromQuery>,
) -> Result<HttpResponse, ApiError> {
    require_role(&caller, STAFF, "read on-call schedules")?;
    let from = AtQuery { at: query.0.from }
        .at(state.clock.now())
        .map_err(|_| ApiError::bad_query("from", "must be an RFC 3339 time like 2026-11-21T09:00:00Z"))?;
    let items = state.store.overrides(id.0, from).await.map_err(api)?.into_iter().map(OverrideDto::from).collect();
    Ok(HttpResponse::Ok().json(OverrideList { items }))
}

/// Remove an override (any staff).
#[utoipa::path(delete, path = "/api/v1/oncall/schedules/{id}/overrides/{override_id}", tag = "oncall",
    params(("id" = Uuid, Path, description = "Schedule id"), ("override_id" = Uuid, Path, description = "Override id")),
    security(("bearer" = [])),
    responses((status = 204), (status = 404, body = Problem)))]
pub async fn delete_override(
    state: web::Data<AppState>,
    caller: Caller,
    id: IdPath<Uuid>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    require_role(&caller, STAFF, "override on-call schedules")?;
    let raw = req.match_info().get("override_id").unwrap_or_default();
    let override_id = raw
        .parse::<Uuid>()
        .map_err(|_| ApiError::NotFound { code: "override_not_found", detail: format!("{raw:?} is not a valid id") })?;
    state.store.delete_override(id.0, override_id).await.map_err(api)?;
    Ok(HttpResponse::NoContent().finish())
}
