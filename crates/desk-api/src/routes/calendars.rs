//! `/api/v1/calendars`: business calendars (working hours by weekday on a time zone,
//! public holidays, make-up working days) that escalation policies count targets on.

use std::collections::BTreeMap;

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use desk_core::calendar::{CalendarInput, NewCalendar, WEEKDAYS};
use desk_store::{CalendarRecord, Store};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::PageParams;
use super::escalation::{MANAGERS, STAFF, api, require_role};
use crate::auth::Caller;
use crate::error::{ApiError, Problem};
use crate::extract::{Body, IdPath, Query};
use crate::state::AppState;

/// A span of working time, `HH:MM` to `HH:MM`; the end may be `24:00`, and an end before
/// the start crosses midnight (`22:00` to `06:00`).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SpanDto {
    /// Start.
    #[schema(example = "09:00")]
    pub start: String,
    /// End.
    #[schema(example = "18:00")]
    pub end: String,
}

/// A calendar as a client writes it.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CalendarBody {
    /// Display name (unique).
    pub name: String,
    /// IANA time zone the hours and dates are read on (`Asia/Shanghai`).
    pub time_zone: String,
    /// Working spans by weekday: `mon` … `sun`; a day left out is not worked.
    pub hours: BTreeMap<String, Vec<SpanDto>>,
    /// Public holidays, `YYYY-MM-DD`: not worked whatever the weekday.
    #[serde(default)]
    pub holidays: Vec<String>,
    /// Make-up working days, `YYYY-MM-DD`: worked although the weekday is off, with the
    /// hours of the first weekday that has any (Monday in a usual week).
    #[serde(default)]
    pub workdays: Vec<String>,
}

/// A stored calendar.
#[derive(Debug, Serialize, ToSchema)]
pub struct CalendarDto {
    /// Id.
    pub id: Uuid,
    /// Name.
    pub name: String,
    /// IANA time zone.
    pub time_zone: String,
    /// Working spans by weekday (days not worked are left out).
    pub hours: BTreeMap<String, Vec<SpanDto>>,
    /// Holidays.
    pub holidays: Vec<String>,
    /// Make-up working days.
    pub workdays: Vec<String>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
}

impl From<CalendarRecord> for CalendarDto {
    fn from(r: CalendarRecord) -> Self {
        let c = r.calendar;
        let dates = |d: &std::collections::BTreeSet<chrono::NaiveDate>| d.iter().map(|d| d.to_string()).collect();
        Self {
            id: r.id,
            name: r.name,
            time_zone: c.time_zone.name().to_owned(),
            hours: WEEKDAYS
                .iter()
                .zip(&c.week)
                .filter(|(_, spans)| !spans.is_empty())
                .map(|(day, spans)| {
                    let spans = spans.iter().map(|s| SpanDto { start: s.start_str(), end: s.end_str() }).collect();
                    ((*day).to_owned(), spans)
                })
                .collect(),
            holidays: dates(&c.holidays),
            workdays: dates(&c.workdays),
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

/// A page of calendars.
#[derive(Debug, Serialize, ToSchema)]
pub struct CalendarList {
    /// The calendars, oldest first.
    pub items: Vec<CalendarDto>,
    /// Pass as `cursor` for the next page; null on the last.
    pub next_cursor: Option<String>,
}

impl TryFrom<CalendarBody> for NewCalendar {
    type Error = ApiError;
    fn try_from(b: CalendarBody) -> Result<Self, ApiError> {
        let hours = b
            .hours
            .into_iter()
            .map(|(day, spans)| (day, spans.into_iter().map(|s| (s.start, s.end)).collect()))
            .collect();
        let input =
            CalendarInput { name: &b.name, time_zone: &b.time_zone, hours, holidays: b.holidays, workdays: b.workdays };
        Ok(NewCalendar::parse(&input)?)
    }
}

/// Create a business calendar (admins and TAMs).
#[utoipa::path(post, path = "/api/v1/calendars", tag = "escalation", request_body = CalendarBody, security(("bearer" = [])),
    responses((status = 201, body = CalendarDto), (status = 403, body = Problem), (status = 409, body = Problem),
        (status = 422, body = Problem)))]
pub async fn create(
    state: web::Data<AppState>,
    caller: Caller,
    body: Body<CalendarBody>,
) -> Result<HttpResponse, ApiError> {
    require_role(&caller, MANAGERS, "manage calendars")?;
    let new = NewCalendar::try_from(body.into_inner())?;
    let record = state.store.create_calendar(new, state.clock.now()).await.map_err(api)?;
    Ok(HttpResponse::Created().json(CalendarDto::from(record)))
}

/// List business calendars.
#[utoipa::path(get, path = "/api/v1/calendars", tag = "escalation", params(PageParams), security(("bearer" = [])),
    responses((status = 200, body = CalendarList), (status = 400, body = Problem), (status = 401, body = Problem)))]
pub async fn list(
    state: web::Data<AppState>,
    caller: Caller,
    page: Query<PageParams>,
) -> Result<HttpResponse, ApiError> {
    require_role(&caller, STAFF, "read calendars")?;
    let page = page.0.to_request(Store::CALENDARS_SCOPE)?;
    let page = state.store.calendars(&page).await.map_err(api)?;
    Ok(HttpResponse::Ok().json(CalendarList {
        items: page.items.into_iter().map(CalendarDto::from).collect(),
        next_cursor: page.next_cursor,
    }))
}

/// Read a business calendar.
#[utoipa::path(get, path = "/api/v1/calendars/{id}", tag = "escalation",
    params(("id" = Uuid, Path, description = "Calendar id")), security(("bearer" = [])),
    responses((status = 200, body = CalendarDto), (status = 404, body = Problem)))]
pub async fn get(state: web::Data<AppState>, caller: Caller, id: IdPath<Uuid>) -> Result<HttpResponse, ApiError> {
    require_role(&caller, STAFF, "read calendars")?;
    Ok(HttpResponse::Ok().json(CalendarDto::from(state.store.calendar(id.0).await.map_err(api)?)))
}

/// Replace a business calendar (admins and TAMs). Running response targets count on the
/// new hours from their next firing.
#[utoipa::path(put, path = "/api/v1/calendars/{id}", tag = "escalation", request_body = CalendarBody,
    params(("id" = Uuid, Path, description = "Calendar id")), security(("bearer" = [])),
    responses((status = 200, body = CalendarDto), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn replace(
    state: web::Data<AppState>,
    caller: Caller,
    id: IdPath<Uuid>,
    body: Body<CalendarBody>,
) -> Result<HttpResponse, ApiError> {
    require_role(&caller, MANAGERS, "manage calendars")?;
    let new = NewCalendar::try_from(body.into_inner())?;
    let record = state.store.replace_calendar(id.0, new, state.clock.now()).await.map_err(api)?;
    Ok(HttpResponse::Ok().json(CalendarDto::from(record)))
}

/// Delete a business calendar no escalation policy uses (admins and TAMs).
#[utoipa::path(delete, path = "/api/v1/calendars/{id}", tag = "escalation",
    params(("id" = Uuid, Path, description = "Calendar id")), security(("bearer" = [])),
    responses((status = 204), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn delete(state: web::Data<AppState>, caller: Caller, id: IdPath<Uuid>) -> Result<HttpResponse, ApiError> {
    require_role(&caller, MANAGERS, "manage calendars")?;
    state.store.delete_calendar(id.0).await.map_err(api)?;
    Ok(HttpResponse::NoContent().finish())
}
