//! `/api/v1/orgs/{id}/reminder-rules` and `/api/v1/reminder-rules/{id}`: an
//! organisation's reminder rules ("notify the assignee in Lark when a customer replies",
//! "notify the TAM when a P1 is created"). They apply beside the built-in rules of
//! `/api/v1/notification-rules`, to changes from every source (REST, Lark, ticketing hooks).

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use desk_core::reminders::{NewReminderRule, ReminderInput, ReminderRule};
use desk_core::{Action, OrgId, PersonId};
use desk_store::StoreError;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::Caller;
use crate::error::{ApiError, Problem};
use crate::extract::{Body, IdPath};
use crate::state::AppState;

/// A reminder rule.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReminderRuleDto {
    /// Id.
    pub id: Uuid,
    /// The organisation whose tickets it watches.
    pub org_id: Uuid,
    /// For people.
    pub name: String,
    /// When: `ticket_created`, `ticket_assigned`, `status_changed`, `customer_comment`,
    /// `staff_comment`, `internal_comment`, `escalated`, `emergency_declared`, `emergency_acknowledged`.
    pub trigger: String,
    /// Only tickets of these severities (empty: any).
    pub severities: Vec<String>,
    /// Who is told: `assignee`, `tam`, `requester`, `ticket_group` or `person`.
    pub audience: String,
    /// For `person`: the staff member.
    pub person_id: Option<Uuid>,
    /// `action`, `state_change` or `response_warning`.
    pub class: String,
    /// Whether it applies.
    pub enabled: bool,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
}

impl From<ReminderRule> for ReminderRuleDto {
    fn from(r: ReminderRule) -> Self {
        Self {
            id: r.id,
            org_id: r.org_id.as_uuid(),
            name: r.name,
            trigger: r.trigger.as_str().to_owned(),
            severities: r.severities.iter().map(|s| s.as_str().to_owned()).collect(),
            audience: r.audience.kind().to_owned(),
            person_id: r.audience.person_id().map(|p| p.as_uuid()),
            class: r.class.as_str().to_owned(),
            enabled: r.enabled,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

/// An organisation's rules.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReminderRuleList {
    /// The rules, oldest first.
    pub items: Vec<ReminderRuleDto>,
}

/// A rule, or changes to one (fields left out keep their value).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReminderRuleBody {
    /// For people. Required for a new rule.
    pub name: Option<String>,
    /// When (see `ReminderRuleDto.trigger`). Required for a new rule.
    pub trigger: Option<String>,
    /// Only tickets of these severities (`P1`–`P4`); empty or absent: any.
    pub severities: Option<Vec<String>>,
    /// `assignee`, `tam`, `requester`, `ticket_group` or `person`. Required for a new rule.
    pub audience: Option<String>,
    /// For `person`: an active staff member.
    pub person_id: Option<Uuid>,
    /// `action` (default), `state_change` or `response_warning`.
    pub class: Option<String>,
    /// Whether it applies (default true).
    pub enabled: Option<bool>,
}

impl ReminderRuleBody {
    fn parse(&self, base: Option<&ReminderRule>) -> Result<NewReminderRule, ApiError> {
        let severities: Option<Vec<&str>> = self.severities.as_ref().map(|s| s.iter().map(String::as_str).collect());
        Ok(NewReminderRule::parse(
            ReminderInput {
                name: self.name.as_deref(),
                trigger: self.trigger.as_deref(),
                severities: severities.as_deref(),
                audience: self.audience.as_deref(),
                person_id: self.person_id.map(PersonId::from_uuid),
                class: self.class.as_deref(),
                enabled: self.enabled,
            },
            base,
        )?)
    }
}

fn rule_error(e: StoreError) -> ApiError {
    match e {
        StoreError::NotFound { entity: "reminder_rule", .. } => {
            ApiError::NotFound { code: "reminder_rule_not_found", detail: e.to_string() }
        }
        other => other.into(),
    }
}

/// An organisation's reminder rules.
#[utoipa::path(get, path = "/api/v1/orgs/{id}/reminder-rules", tag = "notifications",
    params(("id" = Uuid, Path, description = "Organisation id")), security(("bearer" = [])),
    responses((status = 200, body = ReminderRuleList), (status = 404, body = Problem)))]
pub async fn list(state: web::Data<AppState>, caller: Caller, id: IdPath<OrgId>) -> Result<HttpResponse, ApiError> {
    caller.require(Action::ReadOrg, "read reminder rules")?;
    let rules = state.store.reminder_rules(id.0).await?;
    Ok(HttpResponse::Ok().json(ReminderRuleList { items: rules.into_iter().map(ReminderRuleDto::from).collect() }))
}

/// Add a reminder rule to an organisation (admins and TAMs); 50 at most.
#[utoipa::path(post, path = "/api/v1/orgs/{id}/reminder-rules", tag = "notifications",
    params(("id" = Uuid, Path, description = "Organisation id")), request_body = ReminderRuleBody,
    security(("bearer" = [])),
    responses((status = 201, body = ReminderRuleDto), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn create(
    state: web::Data<AppState>,
    caller: Caller,
    id: IdPath<OrgId>,
    body: Body<ReminderRuleBody>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Action::WriteOrg, "change reminder rules")?;
    let rule = body.0.parse(None)?;
    let rule = state.store.create_reminder_rule(id.0, rule, state.clock.now()).await?;
    Ok(HttpResponse::Created().json(ReminderRuleDto::from(rule)))
}

/// Read one reminder rule.
#[utoipa::path(get, path = "/api/v1/reminder-rules/{id}", tag = "notifications",
    params(("id" = Uuid, Path, description = "Rule id")), security(("bearer" = [])),
    responses((status = 200, body = ReminderRuleDto), (status = 404, body = Problem)))]
pub async fn get(state: web::Data<AppState>, caller: Caller, id: IdPath<Uuid>) -> Result<HttpResponse, ApiError> {
    caller.require(Action::ReadOrg, "read reminder rules")?;
    let rule = state.store.reminder_rule(id.0).await.map_err(rule_error)?;
    Ok(HttpResponse::Ok().json(ReminderRuleDto::from(rule)))
}

/// Change a reminder rule (admins and TAMs).
#[utoipa::path(patch, path = "/api/v1/reminder-rules/{id}", tag = "notifications",
    params(("id" = Uuid, Path, description = "Rule id")), request_body = ReminderRuleBody, security(("bearer" = [])),
    responses((status = 200, body = ReminderRuleDto), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn update(
    state: web::Data<AppState>,
    caller: Caller,
    id: IdPath<Uuid>,
    body: Body<ReminderRuleBody>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Action::WriteOrg, "change reminder rules")?;
    let current = state.store.reminder_rule(id.0).await.map_err(rule_error)?;
    let rule = body.0.parse(Some(&current))?;
    let rule = state.store.update_reminder_rule(id.0, rule, state.clock.now()).await.map_err(rule_error)?;
    Ok(HttpResponse::Ok().json(ReminderRuleDto::from(rule)))
}

/// Remove a reminder rule (admins and TAMs).
#[utoipa::path(delete, path = "/api/v1/reminder-rules/{id}", tag = "notifications",
    params(("id" = Uuid, Path, description = "Rule id")), security(("bearer" = [])),
    responses((status = 204, description = "Removed"), (status = 404, body = Problem)))]
pub async fn delete(state: web::Data<AppState>, caller: Caller, id: IdPath<Uuid>) -> Result<HttpResponse, ApiError> {
    caller.require(Action::WriteOrg, "change reminder rules")?;
    state.store.delete_reminder_rule(id.0).await.map_err(rule_error)?;
    Ok(HttpResponse::NoContent().finish())
}
