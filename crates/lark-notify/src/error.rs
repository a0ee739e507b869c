//! `LarkError`: what a Lark call can end in, classified for the caller's retry decision.

use std::time::Duration;

/// Lark codes that mean "slow down" rather than "wrong request" (lark-spec.md §8.1, §2.1, §3.1).
const RATE_LIMIT_CODES: &[i64] = &[99991400, 230020, 232019, 11232, 11233, 11247];
/// Lark codes that mean "the same request is still being processed"; retrying with the same
/// `uuid` is exactly right.
const IN_FLIGHT_CODES: &[i64] = &[230049, 232068];
/// Lark codes about the tenant token itself.
pub(crate) const TOKEN_CODES: &[i64] = &[99991661, 99991663, 99991665, 99991671];
/// This month's API-call quota is used up (§8.3).
pub(crate) const QUOTA_CODE: i64 = 99991403;

/// A failed Lark call.
#[derive(Debug, thiserror::Error)]
pub enum LarkError {
    /// Lark answered with a non-zero `code`.
    #[error("lark error {code}: {msg}")]
    Api {
        /// HTTP status (unreliable for Lark; the code is what counts).
        status: u16,
        /// Lark's code.
        code: i64,
        /// Lark's message.
        msg: String,
        /// `X-Tt-Logid`, for Lark support.
        log_id: Option<String>,
    },
    /// A frequency limit: wait and try again.
    #[error("lark rate limit (code {code})")]
    RateLimited {
        /// Which limit (99991400 app, 230020 message target, 232019 chat, …).
        code: i64,
        /// How long Lark asked us to wait (`x-ogw-ratelimit-reset`).
        retry_after: Option<Duration>,
        /// Log id.
        log_id: Option<String>,
    },
    /// The month's API-call quota is exhausted: nothing billable goes through until the 1st.
    #[error("lark monthly API quota exhausted")]
    QuotaExhausted {
        /// Log id.
        log_id: Option<String>,
    },
    /// No answer in time. The call may or may not have taken effect; a retry with the same
    /// `uuid` is safe.
    #[error("lark did not answer in time")]
    Timeout,
    /// The connection failed.
    #[error("cannot reach lark")]
    Transport(#[source] reqwest::Error),
    /// An HTTP error without a Lark envelope (a proxy's 502, say).
    #[error("lark answered HTTP {status} without a lark body")]
    Http {
        /// HTTP status.
        status: u16,
    },
    /// A body that is not what the API documents.
    #[error("unexpected lark response (HTTP {status}): {detail}")]
    Decode {
        /// HTTP status.
        status: u16,
        /// What did not fit.
        detail: String,
    },
}

impl LarkError {
    /// Whether trying the same call again later can succeed.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::RateLimited { .. } | Self::Timeout | Self::Transport(_) => true,
            Self::Http { status } => *status >= 500 || *status == 429,
            Self::Api { status, code, .. } => IN_FLIGHT_CODES.contains(code) || *status >= 500 || *code == 1,
            Self::QuotaExhausted { .. } | Self::Decode { .. } => false,
        }
    }

    /// Whether Lark (or its gateway) answered with a refusal, so the call is known to have
    /// done nothing and is not billed. A timeout or a broken connection leaves that unknown.
    pub fn is_refusal(&self) -> bool {
        matches!(self, Self::Api { .. } | Self::RateLimited { .. } | Self::QuotaExhausted { .. } | Self::Http { .. })
    }

    /// How long Lark asked us to wait, when it said.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::RateLimited { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// Lark's code, when Lark answered with one.
    pub fn code(&self) -> Option<i64> {
        match self {
            Self::Api { code, .. } | Self::RateLimited { code, .. } => Some(*code),
            Self::QuotaExhausted { .. } => Some(QUOTA_CODE),
            _ => None,
        }
    }

    /// Builds the error for a non-zero code, classifying rate limits and the quota.
    pub(crate) fn from_code(
        status: u16,
        code: i64,
        msg: String,
        log_id: Option<String>,
        retry_after: Option<Duration>,
    ) -> Self {
        if code == QUOTA_CODE {
            Self::QuotaExhausted { log_id }
        } else if RATE_LIMIT_CODES.contains(&code) {
            Self::RateLimited { code, retry_after, log_id }
        } else {
            Self::Api { status, code, msg, log_id }
        }
    }
}
