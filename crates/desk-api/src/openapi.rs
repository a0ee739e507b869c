//! The OpenAPI 3.1 document, generated from the handlers' annotations and served at
//! `/api/v1/openapi.json`.

use actix_web::HttpResponse;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::error::{Problem, ProblemField};
use crate::routes::{calendars, escalation, oncall};
use crate::routes::{
    groups, groups_members, health, integrations, invite_page, invites, notifications, orgs, people, tickets, tokens,
};
use crate::routes::{hooks, reminders, subscriptions};

/// The API description.
#[derive(Debug, OpenApi)]
#[openapi(
    info(title = "Larkdesk API", description = "B2B technical support inside Lark: organisations, people, tickets."),
    paths(
        health::healthz, health::readyz, health::metrics,
        orgs::create, orgs::list, orgs::get, orgs::update, orgs::desk,
        people::create, people::list, people::get, people::update,
        people::from_lark, people::bind,
        groups::list, groups::get, groups::retry, groups::main_group,
        groups_members::list, groups_members::add, groups_members::remove,
        tokens::create, tokens::list, tokens::revoke,
        tickets::create, tickets::list, tickets::get, tickets::update, tickets::assign, tickets::transition,
        tickets::comment, tickets::list_comments, tickets::timeline,
        tickets::escalate, tickets::emergency, tickets::acknowledge,
        integrations::create, integrations::list, integrations::get, integrations::update, integrations::check,
        integrations::budget, integrations::status, integrations::reconnect, integrations::disconnect,
        crate::lark::webhook::events, crate::lark::webhook::cards,
        notifications::list, notifications::get, notifications::retry, notifications::rules,
        invites::create, invites::list, invites::revoke, invites::look, invites::redeem,
        invite_page::page, invite_page::callback,
        escalation::list_policies, escalation::get_plan_policy, escalation::put_plan_policy, escalation::delete_plan_policy,
        escalation::get_org_policy, escalation::put_org_policy, escalation::delete_org_policy,
        escalation::ticket, escalation::simulate,
        calendars::create, calendars::list, calendars::get, calendars::replace, calendars::delete,
        oncall::create, oncall::list, oncall::get, oncall::replace, oncall::delete, oncall::on_call, oncall::everywhere,
        oncall::add_override, oncall::overrides, oncall::delete_override,
        hooks::receive, hooks::create_source, hooks::list_sources, hooks::get_source, hooks::update_source,
        hooks::delete_source, hooks::add_secret, hooks::remove_secret, hooks::source_deliveries,
        subscriptions::event_types, subscriptions::create, subscriptions::list, subscriptions::get,
        subscriptions::update, subscriptions::delete, subscriptions::rotate_secret, subscriptions::deliveries,
        subscriptions::delivery, subscriptions::retry,
        reminders::list, reminders::create, reminders::get, reminders::update, reminders::delete,
        serve,
    ),
    components(schemas(Problem, ProblemField,
        crate::hooks::payload::WebhookMessage, crate::hooks::payload::WebhookEventType)),
    modifiers(&BearerAuth),
    tags(
        (name = "orgs", description = "Customer organisations and the Service Desk view"),
        (name = "people", description = "Staff and customer members"),
        (name = "groups", description = "Main and ticket groups in Lark, their members and invite links"),
        (name = "tickets", description = "Tickets, their actions, comments and timeline"),
        (name = "tokens", description = "API tokens"),
        (name = "integrations", description = "Lark apps of customer organisations (secrets sealed, never returned)"),
        (name = "lark", description = "Lark's event and card-action callbacks (signed by Lark, not by a bearer token)"),
        (name = "notifications", description = "Cards to people and chats: queued, sent, parked; who is told what"),
        (name = "invites", description = "Invite links as their holder sees them: what a link is for, redeeming it with a Lark login (no bearer token)"),
        (name = "escalation", description = "Escalation policies (ladders, response targets, paging chains) per plan and organisation, business calendars, a ticket's targets and paging, the dry run"),
        (name = "oncall", description = "On-call schedules: rotations, overrides, who is on call now or at a time"),
        (name = "hooks", description = "Ticketing systems in: signed deliveries (Standard Webhooks or GitHub style) in the native HookDelivery format, the registered sources and their secrets"),
        (name = "webhooks", description = "Webhooks out: subscriptions to event types (WebhookEventType), signed WebhookMessage deliveries with retries for a day, their records"),
        (name = "operations", description = "Health, readiness, metrics, this document"),
    )
)]
pub struct ApiDoc;

#[derive(Debug)]
struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("ldk_…").build()),
        );
    }
}

/// This document.
#[utoipa::path(get, path = "/api/v1/openapi.json", tag = "operations",
    responses((status = 200, description = "The OpenAPI 3.1 document", content_type = "application/json")))]
pub async fn serve() -> HttpResponse {
    HttpResponse::Ok().json(ApiDoc::openapi())
}
