//! Lark's response envelope `{"code","msg","data"}` and the few shapes that break it.

use actix_web::http::StatusCode;
use serde_json::{Value, json};

/// What a route answers, before the log id and headers are attached.
#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) status: StatusCode,
    pub(crate) body: Body,
    pub(crate) headers: Vec<(&'static str, String)>,
}

#[derive(Debug)]
pub(crate) enum Body {
    Json(Value),
    Text(&'static str),
}

impl Reply {
    /// Success with the usual `data` object.
    pub(crate) fn ok(data: Value) -> Self {
        Self::ok_msg("success", data)
    }

    /// Success with a different `msg` (some endpoints say "ok").
    pub(crate) fn ok_msg(msg: &str, data: Value) -> Self {
        Self::top_level(StatusCode::OK, json!({"code": 0, "msg": msg, "data": data}))
    }

    /// A body that does not follow the envelope (token endpoints, bot info).
    pub(crate) fn top_level(status: StatusCode, body: Value) -> Self {
        Self { status, body: Body::Json(body), headers: Vec::new() }
    }

    /// A business error: HTTP 400 with the code, as the per-API error tables give.
    pub(crate) fn error(code: i64, msg: impl Into<String>) -> Self {
        Self::error_with_data(code, msg, json!({}))
    }

    /// A business error that still reports which ids were at fault.
    pub(crate) fn error_with_data(code: i64, msg: impl Into<String>, data: Value) -> Self {
        Self::top_level(StatusCode::BAD_REQUEST, json!({"code": code, "msg": msg.into(), "data": data}))
    }

    pub(crate) fn missing_token() -> Self {
        Self::error(99_991_661, "Missing access token for authorization. Please make a request with token attached.")
    }

    pub(crate) fn invalid_token() -> Self {
        Self::error(99_991_663, "Invalid access token for authorization. Please make a request with token attached")
    }

    pub(crate) fn rate_limited(limit: u32, reset_s: u64) -> Self {
        let mut reply = Self::top_level(
            StatusCode::TOO_MANY_REQUESTS,
            json!({"code": 99_991_400, "msg": "request trigger frequency limit"}),
        );
        reply.headers.push(("x-ogw-ratelimit-limit", limit.to_string()));
        reply.headers.push(("x-ogw-ratelimit-reset", reset_s.to_string()));
        reply
    }

    pub(crate) fn quota_exceeded() -> Self {
        Self::top_level(
            StatusCode::TOO_MANY_REQUESTS,
            json!({"code": 99_991_403, "msg": "This month's API call quota has been exceeded"}),
        )
    }

    pub(crate) fn server_error_text() -> Self {
        Self {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            body: Body::Text("Internal Server Error"),
            headers: Vec::new(),
        }
    }

    pub(crate) fn server_error_json() -> Self {
        Self::top_level(StatusCode::INTERNAL_SERVER_ERROR, json!({"code": 1, "msg": "system busy"}))
    }

    /// The body `code`, when the body is an envelope.
    pub(crate) fn code(&self) -> Option<i64> {
        match &self.body {
            Body::Json(value) => value.get("code").and_then(Value::as_i64),
            Body::Text(_) => None,
        }
    }

    pub(crate) fn is_success(&self) -> bool {
        self.status.is_success() && self.code() == Some(0)
    }

    /// Failures carry `error.log_id` like Lark's do, so a client can log it.
    pub(crate) fn attach_log_id(&mut self, log_id: &str) {
        if self.is_success() {
            return;
        }
        // The OAuth endpoints already say `error` (a string, with `error_description`).
        if let Body::Json(Value::Object(body)) = &mut self.body
            && !body.contains_key("error")
        {
            body.insert("error".to_owned(), json!({"log_id": log_id}));
        }
    }
}
