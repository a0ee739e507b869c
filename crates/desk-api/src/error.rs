//! `ApiError`: the one place that knows HTTP status codes. Every error body is
//! `application/problem+json` (RFC 9457) with a stable snake_case `code`; validation
//! errors list each field and why. 5xx bodies say only "internal error".

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use desk_core::{DomainError, FieldError};
use desk_store::StoreError;
use serde::Serialize;
use utoipa::ToSchema;

/// The problem document every error response carries.
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    /// A URI naming the problem kind (`urn:larkdesk:problem:<code>`).
    #[serde(rename = "type")]
    pub kind: String,
    /// Short summary of the problem kind.
    pub title: String,
    /// HTTP status.
    pub status: u16,
    /// What went wrong this time.
    pub detail: String,
    /// Stable machine-readable code; see the README for the list.
    pub code: String,
    /// For validation failures: each field and why.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<ProblemField>,
    /// For refused status moves: where the ticket may go instead.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allowed: Option<Vec<String>>,
}

/// One refused field.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProblemField {
    /// The field (`title`, `external_refs[0].url`, or empty for the body as a whole).
    pub field: String,
    /// Why.
    pub reason: String,
}

/// Everything a handler can answer with besides success.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// No bearer token, or one that is unknown or revoked.
    #[error("a valid bearer token is required")]
    Unauthorized,
    /// The token's role may not do this.
    #[error("role {role} may not {what}")]
    Forbidden {
        /// The caller's role.
        role: String,
        /// What was attempted.
        what: &'static str,
    },
    /// The resource does not exist.
    #[error("{detail}")]
    NotFound {
        /// Stable code.
        code: &'static str,
        /// Words.
        detail: String,
    },
    /// The request is not well-formed (bad JSON, bad query string).
    #[error("{detail}")]
    BadRequest {
        /// Stable code.
        code: &'static str,
        /// Words.
        detail: String,
        /// Fields at fault.
        errors: Vec<FieldError>,
    },
    /// Well-formed but unacceptable input.
    #[error("{detail}")]
    Validation {
        /// Stable code.
        code: &'static str,
        /// Words.
        detail: String,
        /// Fields at fault.
        errors: Vec<FieldError>,
    },
    /// The change conflicts with the current state.
    #[error("{detail}")]
    Conflict {
        /// Stable code.
        code: &'static str,
        /// Words.
        detail: String,
        /// For status moves: the allowed targets.
        allowed: Option<Vec<String>>,
    },
    /// A Lark callback that does not authenticate as the integration it was sent to.
    #[error("{detail}")]
    LarkRefused {
        /// Stable code.
        code: &'static str,
        /// Words.
        detail: String,
    },
    /// The body is larger than the limit.
    #[error("the request body is larger than {limit} bytes")]
    PayloadTooLarge {
        /// The limit.
        limit: usize,
    },
    /// The body is not JSON.
    #[error("the request body must be application/json")]
    UnsupportedMediaType,
    /// The database cannot be reached.
    #[error("the service is temporarily unavailable")]
    Unavailable(#[source] StoreError),
    /// A bug or an unexpected failure; details go to the log, not the client.
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

impl ApiError {
    /// A 422 for one field.
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        let error = FieldError::new(field, reason);
        Self::Validation { code: "validation_failed", detail: format!("invalid input: {error}"), errors: vec![error] }
    }

    /// A 400 for one query parameter.
    pub fn bad_query(field: impl Into<String>, reason: impl Into<String>) -> Self {
        let error = FieldError::new(field, reason);
        Self::BadRequest {
            code: "invalid_query",
            detail: format!("invalid query parameter: {error}"),
            errors: vec![error],
        }
    }

    fn code(&self) -> &'static str {
        match self {
            Self::Unauthorized => "unauthorized",
            Self::Forbidden { .. } => "forbidden",
            Self::NotFound { code, .. }
            | Self::BadRequest { code, .. }
            | Self::Validation { code, .. }
            | Self::Conflict { code, .. }
            | Self::LarkRefused { code, .. } => code,
            Self::PayloadTooLarge { .. } => "payload_too_large",
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::Unavailable(_) => "unavailable",
            Self::Internal(_) => "internal",
        }
    }
}

impl From<DomainError> for ApiError {
    fn from(e: DomainError) -> Self {
        match e {
            DomainError::Invalid(errors) => Self::Validation {
                code: "validation_failed",
                detail: DomainError::Invalid(errors.clone()).to_string(),
                errors,
            },
            DomainError::ForbiddenTransition { from, to, ref allowed } => {
                let allowed: Vec<String> = allowed.iter().map(|s| s.as_str().to_owned()).collect();
                Self::Conflict {
                    code: "forbidden_transition",
                    detail: format!(
                        "a ticket cannot move from {from} to {to}; from {from} it may move to: {}",
                        allowed.join(", ")
                    ),
                    allowed: Some(allowed),
                }
            }
            DomainError::TicketClosed { .. } => {
                Self::Conflict { code: "ticket_closed", detail: e.to_string(), allowed: None }
            }
            DomainError::EscalationTopLevel { .. } => {
                Self::Conflict { code: "escalation_top_level", detail: e.to_string(), allowed: None }
            }
            DomainError::NoEmergency => Self::Conflict { code: "no_emergency", detail: e.to_string(), allowed: None },
            DomainError::NotPermitted { who, what } => Self::Forbidden { role: who.to_owned(), what },
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound { entity, .. } => Self::NotFound {
                code: match entity {
                    "ticket" => "ticket_not_found",
                    "org" => "org_not_found",
                    "person" => "person_not_found",
                    "token" => "token_not_found",
                    "integration" => "integration_not_found",
                    "notification" => "notification_not_found",
                    _ => "not_found",
                },
                detail: e.to_string(),
            },
            StoreError::Conflict { code, detail } => Self::Conflict { code, detail, allowed: None },
            StoreError::Domain(d) => d.into(),
            StoreError::Secret(desk_store::SealError::NoKey) => Self::Conflict {
                code: "secret_key_missing",
                detail: "the server has no DESK_SECRET_KEY, so it cannot store integration secrets; set it (32 bytes, base64) and restart".into(),
                allowed: None,
            },
            StoreError::Unavailable(_) => Self::Unavailable(e),
            StoreError::Db(_) | StoreError::Corrupt { .. } | StoreError::Secret(_) => Self::Internal(e.into()),
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::Unauthorized | Self::LarkRefused { .. } => StatusCode::UNAUTHORIZED,
            Self::Forbidden { .. } => StatusCode::FORBIDDEN,
            Self::NotFound { .. } => StatusCode::NOT_FOUND,
            Self::BadRequest { .. } => StatusCode::BAD_REQUEST,
            Self::Validation { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Conflict { .. } => StatusCode::CONFLICT,
            Self::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        let (errors, allowed) = match self {
            Self::BadRequest { errors, .. } | Self::Validation { errors, .. } => (
                errors.iter().map(|e| ProblemField { field: e.field.clone(), reason: e.reason.clone() }).collect(),
                None,
            ),
            Self::Conflict { allowed, .. } => (Vec::new(), allowed.clone()),
            _ => (Vec::new(), None),
        };
        let problem = Problem {
            kind: format!("urn:larkdesk:problem:{}", self.code()),
            title: status.canonical_reason().unwrap_or("Error").to_owned(),
            status: status.as_u16(),
            detail: self.to_string(),
            code: self.code().to_owned(),
            errors,
            allowed,
        };
        let mut response = HttpResponse::build(status);
        response.content_type("application/problem+json");
        if matches!(self, Self::Unauthorized) {
            response.insert_header((header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer")));
        }
        response.json(problem)
    }
}
