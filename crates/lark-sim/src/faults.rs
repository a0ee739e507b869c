//! Injected failures: the next N matching requests fail in a chosen way instead of being served.

use serde::{Deserialize, Serialize};

/// How a faulted request misbehaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    /// HTTP 500; the body is chosen by [`FaultSpec::body`].
    #[serde(rename = "http_500")]
    Http500,
    /// HTTP 429, code 99991400 with the `x-ogw-ratelimit-*` headers.
    RateLimit,
    /// HTTP 400, code 99991663, as if the presented token had expired.
    TokenExpired,
    /// HTTP 429, code 99991403.
    QuotaExceeded,
    /// The request is served normally, but `delay_ms` late (see [`FaultApply`]).
    Delay,
}

/// When a delay happens relative to the real work.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultApply {
    /// Wait, then act and answer.
    #[default]
    Before,
    /// Act, then wait before answering: a client that times out has still caused the side effect.
    After,
}

/// Body of an injected HTTP 500.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultBody {
    /// A plain-text body, as a gateway in front of Lark would send.
    #[default]
    Text,
    /// A Lark-style envelope with code 1 ("system busy").
    Json,
}

/// One fault rule, as posted to `/_sim/faults`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultSpec {
    /// HTTP method to match (any when absent), case-insensitive.
    #[serde(default)]
    pub method: Option<String>,
    /// The request path must start with this.
    pub path_prefix: String,
    /// What happens.
    pub kind: FaultKind,
    /// How many matching requests get the fault.
    #[serde(default = "one")]
    pub count: u32,
    /// Length of a [`FaultKind::Delay`].
    #[serde(default)]
    pub delay_ms: u64,
    /// Whether a delay comes before or after the work.
    #[serde(default)]
    pub apply: FaultApply,
    /// `x-ogw-ratelimit-reset` of a [`FaultKind::RateLimit`].
    #[serde(default = "one_u64")]
    pub retry_after_s: u64,
    /// Body of a [`FaultKind::Http500`].
    #[serde(default)]
    pub body: FaultBody,
}

fn one() -> u32 {
    1
}

fn one_u64() -> u64 {
    1
}

impl FaultSpec {
    /// A rule for the next `count` requests under `path_prefix`, any method, with default details.
    pub fn new(kind: FaultKind, path_prefix: impl Into<String>, count: u32) -> Self {
        Self {
            method: None,
            path_prefix: path_prefix.into(),
            kind,
            count,
            delay_ms: 0,
            apply: FaultApply::Before,
            retry_after_s: 1,
            body: FaultBody::Text,
        }
    }

    fn matches(&self, method: &str, path: &str) -> bool {
        self.method.as_deref().is_none_or(|m| m.eq_ignore_ascii_case(method)) && path.starts_with(&self.path_prefix)
    }
}

/// Pending fault rules, consulted in the order they were added.
#[derive(Debug, Default)]
pub(crate) struct Faults {
    pending: Vec<FaultSpec>,
}

impl Faults {
    pub(crate) fn add(&mut self, spec: FaultSpec) {
        if spec.count > 0 {
            self.pending.push(spec);
        }
    }

    /// Uses up one occurrence of the first rule matching the request.
    pub(crate) fn take(&mut self, method: &str, path: &str) -> Option<FaultSpec> {
        let index = self.pending.iter().position(|f| f.matches(method, path))?;
        let rule = &mut self.pending[index];
        rule.count -= 1;
        let taken = rule.clone();
        if rule.count == 0 {
            self.pending.remove(index);
        }
        Some(taken)
    }

    pub(crate) fn clear(&mut self) {
        self.pending.clear();
    }
}
