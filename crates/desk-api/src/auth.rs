//! Bearer-token authentication as an extractor: handlers take a [`Caller`] and ask it
//! whether the caller may act; they never read headers themselves.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header::AUTHORIZATION;
use actix_web::{FromRequest, HttpRequest, web};
use desk_core::{Action, Actor, PersonId, Role};
use desk_store::TokenOwner;

use crate::error::ApiError;
use crate::state::AppState;

/// The authenticated caller of a request.
#[derive(Debug, Clone)]
pub struct Caller(TokenOwner);

impl Caller {
    /// Refuses with 403 unless the caller's role may do `action`.
    pub fn require(&self, action: Action, what: &'static str) -> Result<(), ApiError> {
        if self.0.role.may(action) { Ok(()) } else { Err(ApiError::Forbidden { role: self.0.role.to_string(), what }) }
    }

    /// Who goes on the timeline.
    pub fn actor(&self) -> &Actor {
        &self.0.actor
    }

    /// The person behind the token, if it is bound to one.
    pub fn person_id(&self) -> Option<PersonId> {
        self.0.actor.person_id
    }

    /// The token's role.
    pub fn role(&self) -> Role {
        self.0.role
    }
}

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let secret = req
            .headers()
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
            .map(|v| v.trim().to_owned());
        let state = req.app_data::<web::Data<AppState>>().cloned();
        Box::pin(async move {
            let (Some(secret), Some(state)) = (secret, state) else { return Err(ApiError::Unauthorized) };
            match state.store.authenticate(&secret).await? {
                Some(owner) => Ok(Self(owner)),
                None => Err(ApiError::Unauthorized),
            }
        })
    }
}
