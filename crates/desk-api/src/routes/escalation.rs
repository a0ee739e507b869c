//! `/api/v1/escalation`: escalation policies (per support plan and per organisation), the
//! dry run, and a ticket's escalation (level, response targets, paging).

use std::collections::BTreeMap;

use actix_web::{HttpResponse, web};
use chrono::{DateTime, TimeDelta, Utc};
use desk_core::escalation::paging::PageReason;
use desk_core::escalation::policy::{PolicyDoc, PolicyOverride};
use desk_core::escalation::simulate::{SimAddress, SimEvent, SimKind};
use desk_core::targets::{format_duration, parse_duration};
use desk_core::{OrgId, Role, Severity, SupportPlan, TicketId};
use desk_store::{PolicyRecord, PolicyScope, StoreError, TicketEscalation};
use escalation::{HORIZON_DEFAULT, SimulationError, SimulationReport, SimulationRequest};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::Caller;
use crate::error::{ApiError, Problem};
use crate::extract::{Body, IdPath};
use crate::state::AppState;

/// Refuses with 403 unless the caller holds one of `roles`.
pub(crate) fn require_role(caller: &Caller, roles: &[Role], what: &'static str) -> Result<(), ApiError> {
    if roles.contains(&caller.role()) {
        Ok(())
    } else {
        Err(ApiError::Forbidden { role: caller.role().to_string(), what })
    }
}

/// Roles that manage escalation policies, calendars and on-call schedules.
pub(crate) const MANAGERS: &[Role] = &[Role::Admin, Role::Tam];
/// Every staff role (reads, overrides, the dry run).
pub(crate) const STAFF: &[Role] = &[Role::Admin, Role::Tam, Role::Engineer];

/// Store errors with this feature's not-found codes.
pub(crate) fn api(e: StoreError) -> ApiError {
    match e {
        StoreError::NotFound { entity: entity @ ("calendar" | "schedule" | "override"), .. } => ApiError::NotFound {
            code: match entity {
                "calendar" => "calendar_not_found",
                "schedule" => "schedule_not_found",
                _ => "override_not_found",
            },
            detail: e.to_string(),
        },
        other => other.into(),
    }
}

// ---- policies ----------------------------------------------------------------------------

/// Someone a level tells or a chain step pages: exactly one of the three fields.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ResponderDto {
    /// `assignee` (whoever the ticket is assigned to) or `tam` (the organisation's TAM).
    pub role: Option<String>,
    /// A staff member.
    pub person_id: Option<Uuid>,
    /// Whoever is on call on this schedule at the time.
    pub schedule_id: Option<Uuid>,
}

/// One level of the escalation ladder.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct LevelDto {
    /// Stable name: lower-case letters, digits and `_` (`senior_engineer`).
    pub name: String,
    /// Told when a ticket reaches this level (besides the assignee and the TAM, whom the
    /// notification rules tell of every escalation).
    pub notify: Option<Vec<ResponderDto>>,
    /// The share of the base response targets at this level, 1–100 (by default 100, 50,
    /// 25, …); an escalation shrinks what is left of each target by the ratio.
    pub target_percent: Option<u32>,
}

/// The response targets of one severity: durations such as `30m`, `4h`, `1h30m`, `2d`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TargetsDto {
    /// Until the first response (an emergency: until someone acknowledges).
    pub first_response: String,
    /// Between updates to the customer.
    pub update: String,
    /// Until resolution.
    pub resolution: String,
    /// Counted on every hour rather than the calendar's working hours (emergencies always are).
    pub around_the_clock: Option<bool>,
}

/// The on-call chain of an emergency.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PagingDto {
    /// Who is paged, step by step (pages climb a step after `pages_per_step` pages).
    pub chain: Option<Vec<ResponderDto>>,
    /// Pages to each step before the next is paged, 1–20 (default 3).
    pub pages_per_step: Option<u32>,
}

/// An escalation policy layer: every field optional, an absent one inherits (the plan's
/// layer from the compiled-in defaults, an organisation's from its plan's).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PolicyDto {
    /// The ladder, lowest level first; replaces the inherited ladder as a whole.
    pub levels: Option<Vec<LevelDto>>,
    /// Targets by severity (`P1` … `P4`); each given severity replaces its inherited targets.
    pub targets: Option<BTreeMap<String, TargetsDto>>,
    /// Warn when this percentage of a target's time is used (1–99, default 80).
    pub warn_at_percent: Option<u8>,
    /// The business calendar the targets count on (default: Monday to Friday, 09:00–18:00 UTC).
    pub calendar_id: Option<Uuid>,
    /// How emergencies page.
    pub paging: Option<PagingDto>,
}

/// A policy layer and the policy in force.
#[derive(Debug, Serialize, ToSchema)]
pub struct PolicyView {
    /// `plan:<plan>` or `org:<id>`.
    pub scope: String,
    /// What this layer changes (`{}` when nothing).
    #[schema(value_type = PolicyDto)]
    pub layer: PolicyDoc,
    /// The policy in force, every layer applied.
    #[schema(value_type = PolicyDto)]
    pub effective: PolicyDoc,
    /// When the layer last changed; null if never.
    pub updated_at: Option<DateTime<Utc>>,
}

impl From<PolicyRecord> for PolicyView {
    fn from(r: PolicyRecord) -> Self {
        Self {
            scope: r.scope.to_string(),
            layer: r.layer.to_doc(),
            effective: r.effective.to_doc(),
            updated_at: r.updated_at,
        }
    }
}

/// The policies of every support plan.
#[derive(Debug, Serialize, ToSchema)]
pub struct PolicyList {
    /// One per plan.
    pub items: Vec<PolicyView>,
}

/// Every support plan's escalation policy.
#[utoipa::path(get, path = "/api/v1/escalation/policies", tag = "escalation", security(("bearer" = [])),
    responses((status = 200, body = PolicyList), (status = 401, body = Problem)))]
pub async fn list_policies(state: web::Data<AppState>, caller: Caller) -> Result<HttpResponse, ApiError> {
    require_role(&caller, STAFF, "read escalation policies")?;
    let items = state.store.plan_policies().await.map_err(api)?.into_iter().map(PolicyView::from).collect();
    Ok(HttpResponse::Ok().json(PolicyList { items }))
}

/// A support plan's escalation policy.
#[utoipa::path(get, path = "/api/v1/escalation/policies/{id}", tag = "escalation",
    params(("id" = String, Path, description = "Support plan: standard, premium or enterprise")), security(("bearer" = [])),
    responses((status = 200, body = PolicyView), (status = 404, body = Problem)))]
pub async fn get_plan_policy(
    state: web::Data<AppState>,
    caller: Caller,
    plan: IdPath<SupportPlan>,
) -> Result<HttpResponse, ApiError> {
    require_role(&caller, STAFF, "read escalation policies")?;
    let record = state.store.escalation_policy(PolicyScope::Plan(plan.0)).await.map_err(api)?;
    Ok(HttpResponse::Ok().json(PolicyView::from(record)))
}

/// Replace a support plan's policy layer (admins and TAMs).
#[utoipa::path(put, path = "/api/v1/escalation/policies/{id}", tag = "escalation", request_body = PolicyDto,
    params(("id" = String, Path, description = "Support plan")), security(("bearer" = [])),
    responses((status = 200, body = PolicyView), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 422, body = Problem)))]
pub async fn put_plan_policy(
    state: web::Data<AppState>,
    caller: Caller,
    plan: IdPath<SupportPlan>,
    body: Body<PolicyDoc>,
) -> Result<HttpResponse, ApiError> {
    require_role(&caller, MANAGERS, "change escalation policies")?;
    let layer = PolicyOverride::parse(&body.into_inner())?;
    let record =
        state.store.set_escalation_policy(PolicyScope::Plan(plan.0), layer, state.clock.now()).await.map_err(api)?;
    Ok(HttpResponse::Ok().json(PolicyView::from(record)))
}

/// Remove a support plan's policy layer: back to the defaults (admins and TAMs).
#[utoipa::path(delete, path = "/api/v1/escalation/policies/{id}", tag = "escalation",
    params(("id" = String, Path, description = "Support plan")), security(("bearer" = [])),
    responses((status = 200, body = PolicyView), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn delete_plan_policy(
    state: web::Data<AppState>,
    caller: Caller,
    plan: IdPath<SupportPlan>,
) -> Result<HttpResponse, ApiError> {
    require_role(&caller, MANAGERS, "change escalation policies")?;
    let record = state.store.clear_escalation_policy(PolicyScope::Plan(plan.0)).await.map_err(api)?;
    Ok(HttpResponse::Ok().json(PolicyView::from(record)))
}

/// An organisation's escalation policy: its own layer and the policy in force.
#[utoipa::path(get, path = "/api/v1/orgs/{id}/escalation-policy", tag = "escalation",
    params(("id" = Uuid, Path, description = "Organisation id")), security(("bearer" = [])),
    responses((status = 200, body = PolicyView), (status = 404, body = Problem)))]
pub async fn get_org_policy(
    state: web::Data<AppState>,
    caller: Caller,
    org: IdPath<OrgId>,
) -> Result<HttpResponse, ApiError> {
    require_role(&caller, STAFF, "read escalation policies")?;
    let record = state.store.escalation_policy(PolicyScope::Org(org.0)).await.map_err(api)?;
    Ok(HttpResponse::Ok().json(PolicyView::from(record)))
}

/// Replace an organisation's policy layer (admins and TAMs).
#[utoipa::path(put, path = "/api/v1/orgs/{id}/escalation-policy", tag = "escalation", request_body = PolicyDto,
    params(("id" = Uuid, Path, description = "Organisation id")), security(("bearer" = [])),
    responses((status = 200, body = PolicyView), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 422, body = Problem)))]
pub async fn put_org_policy(
    state: web::Data<AppState>,
    caller: Caller,
    org: IdPath<OrgId>,
    body: Body<PolicyDoc>,
) -> Result<HttpResponse, ApiError> {
    require_role(&caller, MANAGERS, "change escalation policies")?;
    let layer = PolicyOverride::parse(&body.into_inner())?;
    let record =
        state.store.set_escalation_policy(PolicyScope::Org(org.0), layer, state.clock.now()).await.map_err(api)?;
    Ok(HttpResponse::Ok().json(PolicyView::from(record)))
}

/// Remove an organisation's policy layer: it follows its plan again (admins and TAMs).
#[utoipa::path(delete, path = "/api/v1/orgs/{id}/escalation-policy", tag = "escalation",
    params(("id" = Uuid, Path, description = "Organisation id")), security(("bearer" = [])),
    responses((status = 200, body = PolicyView), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn delete_org_policy(
    state: web::Data<AppState>,
    caller: Caller,
    org: IdPath<OrgId>,
) -> Result<HttpResponse, ApiError> {
    require_role(&caller, MANAGERS, "change escalation policies")?;
    let record = state.store.clear_escalation_policy(PolicyScope::Org(org.0)).await.map_err(api)?;
    Ok(HttpResponse::Ok().json(PolicyView::from(record)))
}

// ---- a ticket's escalation ------------------------------------------------------------------

/// One response target of a ticket.
#[derive(Debug, Serialize, ToSchema)]
pub struct TargetDto {
    /// `first_response`, `update` or `resolution`.
    pub target: String,
    /// `running`, `paused` (waiting on the customer), `met` or `stopped`.
    pub state: String,
    /// Counted on every hour rather than the calendar's working hours.
    pub around_the_clock: bool,
    /// The allowance of this cycle (after escalation), like `4h`.
    pub allowance: String,
    /// Counted time used so far, in seconds.
    pub used_secs: i64,
    /// When this cycle began.
    pub started_at: DateTime<Utc>,
    /// When the warning goes (or went) out.
    pub warn_at: Option<DateTime<Utc>>,
    /// When it runs out; null while paused.
    pub due_at: Option<DateTime<Utc>>,
    /// When the warning went out.
    pub warned_at: Option<DateTime<Utc>>,
    /// When it was missed.
    pub breached_at: Option<DateTime<Utc>>,
    /// When it was met.
    pub met_at: Option<DateTime<Utc>>,
}

/// An emergency's paging.
#[derive(Debug, Serialize, ToSchema)]
pub struct PagingViewDto {
    /// `running` or `stopped`.
    pub state: String,
    /// `unacknowledged`, or `no_update` (acknowledged, then no update within the cadence).
    pub reason: String,
    /// The chain step paged last (1 = the first; 0 before the first page).
    pub step: u32,
    /// Pages to that step.
    pub pages_in_step: u32,
    /// Pages in all.
    pub pages: u32,
    /// When the last page went out.
    pub last_page_at: Option<DateTime<Utc>>,
    /// When the next page is due, while it pages.
    pub next_page_at: Option<DateTime<Utc>>,
}

/// A ticket's escalation.
#[derive(Debug, Serialize, ToSchema)]
pub struct TicketEscalationDto {
    /// The ticket.
    pub ticket_id: Uuid,
    /// Its level (0 = not escalated).
    pub level: i32,
    /// The level's name on the organisation's ladder.
    pub level_name: String,
    /// The ladder, lowest first.
    pub levels: Vec<String>,
    /// Whether it is in emergency.
    pub emergency: bool,
    /// The organisation's calendar's time zone.
    pub time_zone: String,
    /// Its response targets.
    pub targets: Vec<TargetDto>,
    /// Its paging, once it had an emergency; null before.
    pub paging: Option<PagingViewDto>,
    /// When the next update to the customer is due, while that clock runs.
    pub next_update_by: Option<DateTime<Utc>>,
}

impl From<TicketEscalation> for TicketEscalationDto {
    fn from(e: TicketEscalation) -> Self {
        let next_update_by = e
            .targets
            .iter()
            .find(|t| t.target == desk_core::targets::TargetKind::Update && t.state == "running")
            .and_then(|t| t.due_at);
        Self {
            ticket_id: e.ticket.id.as_uuid(),
            level: e.ticket.escalation_level,
            level_name: e.level_name,
            levels: e.levels,
            emergency: e.ticket.emergency.is_some(),
            time_zone: e.time_zone,
            targets: e
                .targets
                .into_iter()
                .map(|t| TargetDto {
                    target: t.target.as_str().to_owned(),
                    state: t.state,
                    around_the_clock: t.around_the_clock,
                    allowance: format_duration(TimeDelta::seconds(t.allowance_secs)),
                    used_secs: t.used_secs,
                    started_at: t.started_at,
                    warn_at: t.warn_at,
                    due_at: t.due_at,
                    warned_at: t.warned_at,
                    breached_at: t.breached_at,
                    met_at: t.met_at,
                })
                .collect(),
            paging: e.paging.map(|p| PagingViewDto {
                state: p.state,
                reason: p.reason.as_str().to_owned(),
                step: p.step,
                pages_in_step: p.pages_in_step,
                pages: p.pages,
                last_page_at: p.last_page_at,
                next_page_at: p.next_page_at,
            }),
            next_update_by,
        }
    }
}

/// A ticket's escalation: its level on its organisation's ladder, its response targets
/// (used, due, warned, missed, met) and its emergency paging.
#[utoipa::path(get, path = "/api/v1/tickets/{id}/escalation", tag = "escalation",
    params(("id" = Uuid, Path, description = "Ticket id")), security(("bearer" = [])),
    responses((status = 200, body = TicketEscalationDto), (status = 404, body = Problem)))]
pub async fn ticket(
    state: web::Data<AppState>,
    caller: Caller,
    id: IdPath<TicketId>,
) -> Result<HttpResponse, ApiError> {
    require_role(&caller, STAFF, "read tickets")?;
    let view = state.store.ticket_escalation(id.0, state.clock.now()).await.map_err(api)?;
    Ok(HttpResponse::Ok().json(TicketEscalationDto::from(view)))
}

// ---- the dry run ----------------------------------------------------------------------------

/// What to simulate: a ticket as it is (`ticket_id`), or a new ticket of a `severity` in
/// an organisation (`org_id`), from `at`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SimulateRequest {
    /// A real ticket.
    pub ticket_id: Option<Uuid>,
    /// The organisation of a new ticket.
    pub org_id: Option<Uuid>,
    /// `P1`–`P4`; a ticket's own when absent.
    pub severity: Option<String>,
    /// From when (RFC 3339); now when absent.
    pub at: Option<DateTime<Utc>>,
    /// Also declare an emergency at `at`.
    #[serde(default)]
    pub emergency: bool,
    /// How far ahead to look: `2h`, `1d` (default `24h`, at most `30d`).
    pub horizon: Option<String>,
}

/// Someone (or a group) who would receive something.
#[derive(Debug, Serialize, ToSchema)]
pub struct SimRecipientDto {
    /// `person` or `chat`.
    pub kind: String,
    /// The person.
    pub person_id: Option<Uuid>,
    /// The Lark chat.
    pub chat_id: Option<String>,
    /// Their name (a chat: its id).
    pub name: String,
    /// When it would reach them: later than the event while their quiet hours hold it
    /// (pages ignore quiet hours).
    pub delivered_at: DateTime<Utc>,
    /// Whether it could reach them at all (a person with no Lark identity cannot be).
    pub deliverable: bool,
}

/// One thing that would happen.
#[derive(Debug, Serialize, ToSchema)]
pub struct SimEventDto {
    /// When.
    pub at: DateTime<Utc>,
    /// `response_warning`, `response_breach`, `escalation`, `emergency_card` or `page`.
    pub kind: String,
    /// The target (warnings and breaches).
    pub target: Option<String>,
    /// The level reached (escalations).
    pub level: Option<i32>,
    /// The chain step, 1-based (pages).
    pub step: Option<u32>,
    /// The page within the step, 1-based (pages).
    pub page: Option<u32>,
    /// `unacknowledged` or `no_update` (pages).
    pub reason: Option<String>,
    /// Who would get it.
    pub recipients: Vec<SimRecipientDto>,
    /// Lark message calls it would cost.
    pub lark_calls: u32,
    /// Whether those calls may spend the emergency reserve.
    pub emergency: bool,
}

/// A response target of the simulated ticket.
#[derive(Debug, Serialize, ToSchema)]
pub struct SimTargetDto {
    /// `first_response`, `update` or `resolution`.
    pub target: String,
    /// When the warning would go out.
    pub warn_at: Option<DateTime<Utc>>,
    /// When it would run out.
    pub due_at: Option<DateTime<Utc>>,
    /// Counted on every hour.
    pub around_the_clock: bool,
}

/// The Lark API calls it would cost, against the month's budget.
#[derive(Debug, Serialize, ToSchema)]
pub struct SimCostDto {
    /// Message calls in all (an upper bound: the notification window may merge some).
    pub total: u32,
    /// Of which emergencies (they may spend the reserve).
    pub emergency: u32,
    /// The integration that would carry them; null when the organisation has none.
    pub integration_id: Option<String>,
    /// Its monthly budget.
    pub budget: Option<u32>,
    /// Used this month.
    pub used: Option<u32>,
    /// Ordinary calls the month still allows.
    pub left: Option<u32>,
    /// Calls the month still allows with the emergency reserve.
    pub left_with_reserve: Option<u32>,
}

/// A dry run's answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct SimulationDto {
    /// The organisation.
    pub org_id: Uuid,
    /// The ticket, when a real one was simulated.
    pub ticket_id: Option<Uuid>,
    /// The severity simulated.
    pub severity: String,
    /// The escalation level.
    pub level: i32,
    /// Its name on the organisation's ladder.
    pub level_name: String,
    /// From.
    pub at: DateTime<Utc>,
    /// Until.
    pub until: DateTime<Utc>,
    /// The calendar's time zone.
    pub time_zone: String,
    /// The response targets.
    pub targets: Vec<SimTargetDto>,
    /// What would happen, in time order.
    pub events: Vec<SimEventDto>,
    /// What it would cost.
    pub lark_calls: SimCostDto,
    /// What would not work as hoped.
    pub warnings: Vec<String>,
}

fn event_dto(e: SimEvent) -> SimEventDto {
    let (kind, target, level, step, page, reason) = match e.kind {
        SimKind::Warning(t) => ("response_warning", Some(t.as_str().to_owned()), None, None, None, None),
        SimKind::Breach(t) => ("response_breach", Some(t.as_str().to_owned()), None, None, None, None),
        SimKind::Escalation { level } => ("escalation", None, Some(level), None, None, None),
        SimKind::EmergencyCard => ("emergency_card", None, None, None, None, None),
        SimKind::Page { step, page, reason } => {
            ("page", None, None, Some(step), Some(page), Some(PageReason::as_str(reason).to_owned()))
        }
    };
    SimEventDto {
        at: e.at,
        kind: kind.to_owned(),
        target,
        level,
        step,
        page,
        reason,
        recipients: e
            .recipients
            .into_iter()
            .map(|r| {
                let (kind, person_id, chat_id) = match r.target {
                    SimAddress::Person(p) => ("person", Some(p.as_uuid()), None),
                    SimAddress::Chat(c) => ("chat", None, Some(c)),
                };
                SimRecipientDto {
                    kind: kind.to_owned(),
                    person_id,
                    chat_id,
                    name: r.name,
                    delivered_at: r.delivered_at,
                    deliverable: r.deliverable,
                }
            })
            .collect(),
        lark_calls: e.lark_calls,
        emergency: e.emergency,
    }
}

impl From<SimulationReport> for SimulationDto {
    fn from(r: SimulationReport) -> Self {
        Self {
            org_id: r.org_id.as_uuid(),
            ticket_id: r.ticket_id.map(|t| t.as_uuid()),
            severity: r.severity.as_str().to_owned(),
            level: r.level,
            level_name: r.level_name,
            at: r.at,
            until: r.until,
            time_zone: r.time_zone,
            targets: r
                .targets
                .into_iter()
                .map(|t| SimTargetDto {
                    target: t.kind.as_str().to_owned(),
                    warn_at: t.warn_at,
                    due_at: t.due_at,
                    around_the_clock: t.around_the_clock,
                })
                .collect(),
            events: r.events.into_iter().map(event_dto).collect(),
            lark_calls: SimCostDto {
                total: r.lark_calls,
                emergency: r.emergency_calls,
                integration_id: r.budget.as_ref().map(|b| b.integration_id.clone()),
                budget: r.budget.as_ref().map(|b| b.budget),
                used: r.budget.as_ref().map(|b| b.used),
                left: r.budget_left.map(|l| l.0),
                left_with_reserve: r.budget_left.map(|l| l.1),
            },
            warnings: r.warnings,
        }
    }
}

impl TryFrom<SimulateRequest> for SimulationRequest {
    type Error = ApiError;
    fn try_from(b: SimulateRequest) -> Result<Self, ApiError> {
        let mut v = desk_core::Validation::new();
        let severity = v.choice::<Severity>("severity", b.severity.as_deref(), "must be one of P1, P2, P3, P4");
        let horizon = match b.horizon.as_deref() {
            None => HORIZON_DEFAULT,
            Some(raw) => parse_duration(raw).unwrap_or_else(|| {
                v.fail("horizon", "must be a duration such as 2h or 1d, at most 30d");
                HORIZON_DEFAULT
            }),
        };
        if b.ticket_id.is_none() && (b.org_id.is_none() || b.severity.is_none()) {
            v.fail("", "name a ticket_id, or an org_id and a severity");
        }
        v.finish(Self {
            ticket_id: b.ticket_id.map(TicketId::from_uuid),
            org_id: b.org_id.map(OrgId::from_uuid),
            severity,
            at: b.at,
            emergency: b.emergency,
            horizon,
        })
        .map_err(ApiError::from)
    }
}

/// A dry run of escalation: who would be told or paged, when, and how many Lark API calls
/// that costs, for a ticket as it is or for a new ticket of a severity in an organisation
/// at a time, against the real policy, calendar, on-call schedules and quiet hours.
/// Nothing is written and nothing is sent.
#[utoipa::path(post, path = "/api/v1/escalation/simulate", tag = "escalation", request_body = SimulateRequest,
    security(("bearer" = [])),
    responses((status = 200, body = SimulationDto), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn simulate(
    state: web::Data<AppState>,
    caller: Caller,
    body: Body<SimulateRequest>,
) -> Result<HttpResponse, ApiError> {
    require_role(&caller, STAFF, "simulate escalations")?;
    let request = SimulationRequest::try_from(body.into_inner())?;
    let report = escalation::simulate(&state.store, request, state.clock.now(), state.settings.page_interval)
        .await
        .map_err(|e| match e {
            SimulationError::Invalid(d) => ApiError::from(d),
            SimulationError::Store(s) => api(s),
        })?;
    Ok(HttpResponse::Ok().json(SimulationDto::from(report)))
}
