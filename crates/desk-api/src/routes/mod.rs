//! HTTP handlers, one module per resource. Handlers are thin: extract, parse into a
//! domain command, make one store call, map to a DTO. No sea-orm here.

pub mod calendars;
pub mod escalation;
pub mod groups;
pub mod groups_members;
pub mod health;
pub mod hooks;
pub mod integrations;
pub mod invite_page;
pub mod invites;
pub mod notifications;
pub mod oncall;
pub mod orgs;
pub mod people;
pub mod reminders;
pub mod subscriptions;
pub mod tickets;
pub mod tokens;

use actix_web::{HttpRequest, web};
use desk_store::{Cursor, PageRequest};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::error::ApiError;
use crate::openapi;

/// Registers every route.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/healthz", web::get().to(health::healthz))
        .route("/readyz", web::get().to(health::readyz))
        .route("/metrics", web::get().to(health::metrics))
        .route("/lark/{integration}/events", web::post().to(crate::lark::events))
        .route("/lark/{integration}/cards", web::post().to(crate::lark::cards))
        // Invite pages: the callback first, so `{token}` never matches it.
        .route("/invite/callback", web::get().to(invite_page::callback))
        .route("/invite/{token}", web::get().to(invite_page::page))
        .service(
            web::scope("/api/v1")
                .route("/openapi.json", web::get().to(openapi::serve))
                .route("/orgs", web::get().to(orgs::list))
                .route("/orgs", web::post().to(orgs::create))
                .route("/orgs/{id}", web::get().to(orgs::get))
                .route("/orgs/{id}", web::patch().to(orgs::update))
                .route("/orgs/{id}/desk", web::get().to(orgs::desk))
                .route("/orgs/{id}/main-group", web::post().to(groups::main_group))
                .route("/people", web::get().to(people::list))
                .route("/people", web::post().to(people::create))
                .route("/people/from-lark", web::post().to(people::from_lark))
                .route("/people/bind", web::post().to(people::bind))
                .route("/people/{id}", web::get().to(people::get))
                .route("/people/{id}", web::patch().to(people::update))
                .route("/tokens", web::get().to(tokens::list))
                .route("/tokens", web::post().to(tokens::create))
                .route("/tokens/{id}", web::delete().to(tokens::revoke))
                .route("/tickets", web::get().to(tickets::list))
                .route("/tickets", web::post().to(tickets::create))
                .route("/tickets/{id}", web::get().to(tickets::get))
                .route("/tickets/{id}", web::patch().to(tickets::update))
                .route("/tickets/{id}/assign", web::post().to(tickets::assign))
                .route("/tickets/{id}/transition", web::post().to(tickets::transition))
                .route("/tickets/{id}/escalate", web::post().to(tickets::escalate))
                .route("/tickets/{id}/emergency", web::post().to(tickets::emergency))
                .route("/tickets/{id}/acknowledge", web::post().to(tickets::acknowledge))
                .route("/tickets/{id}/comments", web::get().to(tickets::list_comments))
                .route("/tickets/{id}/comments", web::post().to(tickets::comment))
                .route("/tickets/{id}/timeline", web::get().to(tickets::timeline))
                .route("/integrations", web::get().to(integrations::list))
                .route("/integrations", web::post().to(integrations::create))
                .route("/integrations/{id}", web::get().to(integrations::get))
                .route("/integrations/{id}", web::patch().to(integrations::update))
                .route("/integrations/{id}/check", web::post().to(integrations::check))
                .route("/integrations/{id}/budget", web::get().to(integrations::budget))
                .route("/integrations/{id}/status", web::get().to(integrations::status))
                .route("/integrations/{id}/connection/reconnect", web::post().to(integrations::reconnect))
                .route("/integrations/{id}/connection/disconnect", web::post().to(integrations::disconnect))
                .route("/notifications", web::get().to(notifications::list))
                .route("/notifications/{id}", web::get().to(notifications::get))
                .route("/notifications/{id}/retry", web::post().to(notifications::retry))
                .route("/notification-rules", web::get().to(notifications::rules))
                .route("/orgs/{id}/reminder-rules", web::get().to(reminders::list))
                .route("/orgs/{id}/reminder-rules", web::post().to(reminders::create))
                .route("/reminder-rules/{id}", web::get().to(reminders::get))
                .route("/reminder-rules/{id}", web::patch().to(reminders::update))
                .route("/reminder-rules/{id}", web::delete().to(reminders::delete))
                .route("/hooks/ticketing/{source}", web::post().to(hooks::receive))
                .route("/hooks/sources", web::get().to(hooks::list_sources))
                .route("/hooks/sources", web::post().to(hooks::create_source))
                .route("/hooks/sources/{name}", web::get().to(hooks::get_source))
                .route("/hooks/sources/{name}", web::patch().to(hooks::update_source))
                .route("/hooks/sources/{name}", web::delete().to(hooks::delete_source))
                .route("/hooks/sources/{name}/secrets", web::post().to(hooks::add_secret))
                .route("/hooks/sources/{name}/secrets/{secret_id}", web::delete().to(hooks::remove_secret))
                .route("/hooks/sources/{name}/deliveries", web::get().to(hooks::source_deliveries))
                .route("/hooks/event-types", web::get().to(subscriptions::event_types))
                .route("/hooks/subscriptions", web::get().to(subscriptions::list))
                .route("/hooks/subscriptions", web::post().to(subscriptions::create))
                .route("/hooks/subscriptions/{id}", web::get().to(subscriptions::get))
                .route("/hooks/subscriptions/{id}", web::patch().to(subscriptions::update))
                .route("/hooks/subscriptions/{id}", web::delete().to(subscriptions::delete))
                .route("/hooks/subscriptions/{id}/rotate-secret", web::post().to(subscriptions::rotate_secret))
                .route("/hooks/subscriptions/{id}/deliveries", web::get().to(subscriptions::deliveries))
                .route("/hooks/deliveries/{id}", web::get().to(subscriptions::delivery))
                .route("/hooks/deliveries/{id}/retry", web::post().to(subscriptions::retry))
                .route("/groups", web::get().to(groups::list))
                .route("/groups/{id}", web::get().to(groups::get))
                .route("/groups/{id}/retry", web::post().to(groups::retry))
                .route("/groups/{id}/members", web::get().to(groups_members::list))
                .route("/groups/{id}/members", web::post().to(groups_members::add))
                .route("/groups/{id}/members/{open_id}", web::delete().to(groups_members::remove))
                .route("/groups/{id}/invites", web::get().to(invites::list))
                .route("/groups/{id}/invites", web::post().to(invites::create))
                .route("/invites/{id}/revoke", web::post().to(invites::revoke))
                .route("/invites/{token}", web::get().to(invites::look))
                .route("/invites/{token}/redeem", web::post().to(invites::redeem))
                .route("/tickets/{id}/escalation", web::get().to(escalation::ticket))
                .route("/orgs/{id}/escalation-policy", web::get().to(escalation::get_org_policy))
                .route("/orgs/{id}/escalation-policy", web::put().to(escalation::put_org_policy))
                .route("/orgs/{id}/escalation-policy", web::delete().to(escalation::delete_org_policy))
                .route("/escalation/policies", web::get().to(escalation::list_policies))
                .route("/escalation/policies/{id}", web::get().to(escalation::get_plan_policy))
                .route("/escalation/policies/{id}", web::put().to(escalation::put_plan_policy))
                .route("/escalation/policies/{id}", web::delete().to(escalation::delete_plan_policy))
                .route("/escalation/simulate", web::post().to(escalation::simulate))
                .route("/calendars", web::get().to(calendars::list))
                .route("/calendars", web::post().to(calendars::create))
                .route("/calendars/{id}", web::get().to(calendars::get))
                .route("/calendars/{id}", web::put().to(calendars::replace))
                .route("/calendars/{id}", web::delete().to(calendars::delete))
                .route("/oncall", web::get().to(oncall::everywhere))
                .route("/oncall/schedules", web::get().to(oncall::list))
                .route("/oncall/schedules", web::post().to(oncall::create))
                .route("/oncall/schedules/{id}", web::get().to(oncall::get))
                .route("/oncall/schedules/{id}", web::put().to(oncall::replace))
                .route("/oncall/schedules/{id}", web::delete().to(oncall::delete))
                .route("/oncall/schedules/{id}/on-call", web::get().to(oncall::on_call))
                .route("/oncall/schedules/{id}/overrides", web::get().to(oncall::overrides))
                .route("/oncall/schedules/{id}/overrides", web::post().to(oncall::add_override))
                .route("/oncall/schedules/{id}/overrides/{override_id}", web::delete().to(oncall::delete_override)),
        )
        .default_service(web::to(not_found));
}

async fn not_found(req: HttpRequest) -> Result<actix_web::HttpResponse, ApiError> {
    // The detail reaches the request log: a mistyped invite URL must not carry its token there.
    let path = crate::telemetry::loggable_path(req.path());
    Err(ApiError::NotFound { code: "route_not_found", detail: format!("no route for {} {path}", req.method()) })
}

/// Default rows per page.
pub const DEFAULT_LIMIT: u64 = 50;
/// Most rows per page.
pub const MAX_LIMIT: u64 = 200;

/// Paging parameters shared by every list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// Rows per page, 1–200 (default 50).
    pub limit: Option<u64>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

impl PageParams {
    /// Checks the limit and decodes the cursor for the list `scope`.
    pub fn to_request(&self, scope: &str) -> Result<PageRequest, ApiError> {
        let limit = self.limit.unwrap_or(DEFAULT_LIMIT);
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(ApiError::bad_query("limit", format!("must be between 1 and {MAX_LIMIT}")));
        }
        let after = match self.cursor.as_deref() {
            None | Some("") => None,
            Some(raw) => Some(Cursor::decode(raw, scope).map_err(|e| ApiError::bad_query("cursor", e.to_string()))?),
        };
        Ok(PageRequest { limit, after })
    }
}
