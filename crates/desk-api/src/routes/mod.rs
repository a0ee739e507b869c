//! HTTP handlers, one module per resource. Handlers are thin: extract, parse into a
//! domain command, make one store call, map to a DTO. No sea-orm here.

pub mod health;
pub mod integrations;
pub mod notifications;
pub mod orgs;
pub mod people;
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
        .service(
            web::scope("/api/v1")
                .route("/openapi.json", web::get().to(openapi::serve))
                .route("/orgs", web::get().to(orgs::list))
                .route("/orgs", web::post().to(orgs::create))
                .route("/orgs/{id}", web::get().to(orgs::get))
                .route("/orgs/{id}", web::patch().to(orgs::update))
                .route("/orgs/{id}/desk", web::get().to(orgs::desk))
                .route("/people", web::get().to(people::list))
                .route("/people", web::post().to(people::create))
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
                .route("/notification-rules", web::get().to(notifications::rules)),
        )
        .default_service(web::to(not_found));
}

async fn not_found(req: HttpRequest) -> Result<actix_web::HttpResponse, ApiError> {
    Err(ApiError::NotFound { code: "route_not_found", detail: format!("no route for {} {}", req.method(), req.path()) })
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
