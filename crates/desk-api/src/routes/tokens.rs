//! `/api/v1/tokens`: API tokens for staff and automation (admins only).

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use desk_core::{Action, PersonId, Role, TokenId, Validation};
use desk_store::{NewToken, TokenInfo};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::PageParams;
use crate::auth::Caller;
use crate::error::{ApiError, Problem};
use crate::extract::{Body, IdPath, Query};
use crate::state::AppState;

/// A token's metadata. The secret is never shown again after creation.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenDto {
    /// Id.
    pub id: Uuid,
    /// What it is for.
    pub name: String,
    /// `admin`, `tam` or `engineer`.
    pub role: String,
    /// The staff member it acts as.
    pub person_id: Option<Uuid>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Revoked, if it was.
    pub revoked_at: Option<DateTime<Utc>>,
}

impl From<TokenInfo> for TokenDto {
    fn from(t: TokenInfo) -> Self {
        Self {
            id: t.id.as_uuid(),
            name: t.name,
            role: t.role.as_str().to_owned(),
            person_id: t.person_id.map(|p| p.as_uuid()),
            created_at: t.created_at,
            revoked_at: t.revoked_at,
        }
    }
}

/// A new token.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateToken {
    /// What it is for.
    pub name: String,
    /// Its role; defaults to the person's and may not exceed it. Required without a person.
    pub role: Option<String>,
    /// The staff member it acts as (their name goes on timelines).
    pub person_id: Option<Uuid>,
}

/// A created token, with its secret: store it now, it is not shown again.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenCreated {
    /// Metadata.
    #[serde(flatten)]
    pub info: TokenDto,
    /// The bearer secret (`ldk_…`).
    pub token: String,
}

/// A page of tokens.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenList {
    /// The tokens.
    pub items: Vec<TokenDto>,
    /// Pass as `cursor` for the next page; null on the last.
    pub next_cursor: Option<String>,
}

/// Create a token (admins only).
#[utoipa::path(post, path = "/api/v1/tokens", tag = "tokens", request_body = CreateToken, security(("bearer" = [])),
    responses((status = 201, body = TokenCreated), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn create(
    state: web::Data<AppState>,
    caller: Caller,
    body: Body<CreateToken>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Action::ManageTokens, "manage tokens")?;
    let b = body.into_inner();
    let mut v = Validation::new();
    let name = v.required_line("name", &b.name, 100);
    let role = v.choice::<Role>("role", b.role.as_deref(), "must be one of admin, tam, engineer");
    let new = v.finish(NewToken { name, role, person_id: b.person_id.map(PersonId::from_uuid) })?;
    let issued = state.store.create_token(new, state.clock.now()).await?;
    Ok(HttpResponse::Created().json(TokenCreated { info: issued.info.into(), token: issued.secret }))
}

/// List tokens (admins only).
#[utoipa::path(get, path = "/api/v1/tokens", tag = "tokens", params(PageParams), security(("bearer" = [])),
    responses((status = 200, body = TokenList), (status = 403, body = Problem)))]
pub async fn list(
    state: web::Data<AppState>,
    caller: Caller,
    page: Query<PageParams>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Action::ManageTokens, "manage tokens")?;
    let page = state.store.list_tokens(&page.0.to_request("tokens")?).await?;
    Ok(HttpResponse::Ok()
        .json(TokenList { items: page.items.into_iter().map(TokenDto::from).collect(), next_cursor: page.next_cursor }))
}

/// Revoke a token (admins only). It stops working at once.
#[utoipa::path(delete, path = "/api/v1/tokens/{id}", tag = "tokens", params(("id" = Uuid, Path, description = "Token id")),
    security(("bearer" = [])), responses((status = 200, body = TokenDto), (status = 404, body = Problem)))]
pub async fn revoke(state: web::Data<AppState>, caller: Caller, id: IdPath<TokenId>) -> Result<HttpResponse, ApiError> {
    caller.require(Action::ManageTokens, "manage tokens")?;
    let token = state.store.revoke_token(id.0, state.clock.now()).await?;
    Ok(HttpResponse::Ok().json(TokenDto::from(token)))
}
