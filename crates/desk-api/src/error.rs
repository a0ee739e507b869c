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
    /// The thing existed but is no longer usable (an expired, revoked or used-up invite).
    #[error("{detail}")]
    Gone {
        /// Stable code.
        code: &'static str,
        /// Words.
        detail: String,
    },
    /// Lark could not do it: 503 when trying again later may help, else 502.
    #[error("{detail}")]
    Upstream {
        /// Stable code.
        code: &'static str,
        /// Words.
        detail: String,
        /// Whether a retry later may succeed (503) or not (502).
        retry: bool,
    },
    /// A Lark callback that does not authenticate as the integration it was sent to.
    #[error("{detail}")]
    LarkRefused {
        /// Stable code.
        code: &'static str,
        /// Words.
        detail: String,
    },
    /// A signed delivery (a ticketing source's hook) whose signature or timestamp does not
    /// check out.
    #[error("{detail}")]
    SignatureRefused {
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
            | Self::Gone { code, .. }
            | Self::Upstream { code, .. }
            | Self::LarkRefused { code, .. }
            | Self::SignatureRefused { code, .. } => code,
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
                    "group" => "group_not_found",
                    "invite" => "invite_not_found",
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
            Self::Unauthorized | Self::LarkRefused { .. } | Self::SignatureRefused { .. } => StatusCode::UNAUTHORIZED,
            Self::Forbidden { .. } => StatusCode::FORBIDDEN,
            Self::NotFound { .. } => StatusCode::NOT_FOUND,
            Self::BadRequest { .. } => StatusCode::BAD_REQUEST,
            Self::Validation { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Conflict { .. } => StatusCode::CONFLICT,
            Self::Gone { .. } => StatusCode::GONE,
            Self::Upstream { retry: true, .. } => StatusCode::SERVICE_UNAVAILABLE,
            Self::Upstream { retry: false, .. } => StatusCode::BAD_GATEWAY,
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

impl From<group_manager::invites::InviteError> for ApiError {
    fn from(e: group_manager::invites::InviteError) -> Self {
        use group_manager::invites::InviteError as E;
        if let E::Lark(source) | E::LarkUnavailable(source) = &e {
            // Logged here, where the Lark error turns into an answer without it.
            tracing::warn!(error = %source, "an invite could not be completed in Lark");
        }
        let detail = e.to_string();
        let conflict = |code| Self::Conflict { code, detail: detail.clone(), allowed: None };
        let upstream = |code, retry| Self::Upstream { code, detail: detail.clone(), retry };
        match e {
            E::NotFound => Self::NotFound { code: "invite_not_found", detail },
            E::Expired(_) => Self::Gone { code: "invite_expired", detail },
            E::Revoked(_) => Self::Gone { code: "invite_revoked", detail },
            E::UsedUp => Self::Gone { code: "invite_used_up", detail },
            E::GroupGone => conflict("group_gone"),
            E::GroupNotReady | E::NoGroup(_) => conflict("group_not_ready"),
            E::NoLarkApp(_) => conflict("group_not_in_lark"),
            E::NoAppAccess => conflict("lark_no_app_access"),
            E::AddRefused { .. } => conflict("lark_refused_member"),
            E::LoginRejected { .. } => Self::Validation {
                code: "login_code_invalid",
                errors: vec![FieldError::new("code", "Lark did not accept this login code; log in again")],
                detail,
            },
            E::RedirectMismatch => Self::Validation {
                code: "login_redirect_mismatch",
                errors: vec![FieldError::new("redirect_uri", "is not the one the Lark login was started with")],
                detail,
            },
            E::BudgetSpent => upstream("lark_budget_spent", true),
            E::LarkUnavailable(_) => upstream("lark_unavailable", true),
            E::Lark(_) => upstream("lark_error", false),
            E::Rng(_) => Self::Internal(e.into()),
            E::Store(s) => s.into(),
        }
    }
}

// ---- group members and binding (group-manager) ---------------------------------------

impl From<group_manager::LarkCallError> for ApiError {
    fn from(e: group_manager::LarkCallError) -> Self {
        use group_manager::LarkCallError as E;
        use lark_notify::LarkError as L;
        if let E::Lark(source) = &e {
            // Logged here, where the Lark error turns into an answer without its source.
            tracing::warn!(error = %source, "a member or binding call to Lark failed");
        }
        let detail = e.to_string();
        let upstream = |code, retry| Self::Upstream { code, detail: detail.clone(), retry };
        match e {
            E::Store(s) => s.into(),
            E::NoIntegration(_) => Self::Conflict { code: "no_lark_integration", detail, allowed: None },
            E::Off(_) => Self::Conflict { code: "lark_off", detail, allowed: None },
            E::BudgetSpent(_) => upstream("lark_budget_spent", true),
            E::Lark(L::QuotaExhausted { .. }) => upstream("lark_quota_exhausted", true),
            E::Lark(L::RateLimited { .. }) => upstream("lark_rate_limited", true),
            E::Lark(ref l) if l.is_retryable() => upstream("lark_unavailable", true),
            E::Lark(_) => upstream("lark_error", false),
        }
    }
}

impl From<group_manager::members::MembersError> for ApiError {
    fn from(e: group_manager::members::MembersError) -> Self {
        use desk_core::membership::AddRefusal;
        use group_manager::members::MembersError as E;
        let detail = e.to_string();
        match e {
            E::Store(s) => s.into(),
            E::Lark(l) => l.into(),
            E::NotReady { .. } => Self::Conflict { code: "group_not_ready", detail, allowed: None },
            E::Gone(_) => Self::Conflict { code: "group_gone", detail, allowed: None },
            E::PersonRefused { why, .. } => Self::Conflict {
                code: match why {
                    AddRefusal::Inactive => "person_inactive",
                    AddRefusal::NotBound => "person_not_bound",
                    AddRefusal::OtherOrganisation => "person_of_another_org",
                },
                detail,
                allowed: None,
            },
            E::NotMember(_) => Self::NotFound { code: "member_not_found", detail },
            E::LarkRefusedMember { .. } => Self::Conflict { code: "lark_refused_member", detail, allowed: None },
        }
    }
}

impl From<group_manager::binding::BindingError> for ApiError {
    fn from(e: group_manager::binding::BindingError) -> Self {
        use group_manager::binding::BindingError as E;
        let detail = e.to_string();
        match e {
            E::Store(s) => s.into(),
            E::Lark(l) => l.into(),
            E::Invalid(d) => d.into(),
            E::LarkUserNotFound(_) => Self::NotFound { code: "lark_user_not_found", detail },
            E::AlreadyBound { .. } => Self::Conflict { code: "lark_open_id_taken", detail, allowed: None },
            E::ProfileMatchesPeople { .. } => Self::Conflict { code: "person_exists", detail, allowed: None },
        }
    }
}

// ---- groups made in Lark (group-manager) --------------------------------------------

impl From<group_manager::GroupError> for ApiError {
    fn from(e: group_manager::GroupError) -> Self {
        match e {
            group_manager::GroupError::Store(s) => s.into(),
            // Lark refused for a reason an admin has to fix (the detail says what); the
            // group records it too.
            group_manager::GroupError::Refused { code, detail } => Self::Conflict { code, detail, allowed: None },
        }
    }
}
