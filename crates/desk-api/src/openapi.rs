//! The OpenAPI 3.1 document, generated from the handlers' annotations and served at
//! `/api/v1/openapi.json`.

use actix_web::HttpResponse;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::error::{Problem, ProblemField};
use crate::routes::{health, integrations, notifications, orgs, people, tickets, tokens};

/// The API description.
#[derive(Debug, OpenApi)]
#[openapi(
    info(title = "Larkdesk API", description = "B2B technical support inside Lark: organisations, people, tickets."),
    paths(
        health::healthz, health::readyz, health::metrics,
        orgs::create, orgs::list, orgs::get, orgs::update, orgs::desk,
        people::create, people::list, people::get, people::update,
        tokens::create, tokens::list, tokens::revoke,
        tickets::create, tickets::list, tickets::get, tickets::update, tickets::assign, tickets::transition,
        tickets::comment, tickets::list_comments, tickets::timeline,
        tickets::escalate, tickets::emergency, tickets::acknowledge,
        integrations::create, integrations::list, integrations::get, integrations::update, integrations::check,
        integrations::budget, integrations::status, integrations::reconnect, integrations::disconnect,
        crate::lark::webhook::events, crate::lark::webhook::cards,
        notifications::list, notifications::get, notifications::retry, notifications::rules,
        serve,
    ),
    components(schemas(Problem, ProblemField)),
    modifiers(&BearerAuth),
    tags(
        (name = "orgs", description = "Customer organisations and the Service Desk view"),
        (name = "people", description = "Staff and customer members"),
        (name = "tickets", description = "Tickets, their actions, comments and timeline"),
        (name = "tokens", description = "API tokens"),
        (name = "integrations", description = "Lark apps of customer organisations (secrets sealed, never returned)"),
        (name = "lark", description = "Lark's event and card-action callbacks (signed by Lark, not by a bearer token)"),
        (name = "notifications", description = "Cards to people and chats: queued, sent, parked; who is told what"),
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
