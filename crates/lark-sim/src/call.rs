//! A read-only view of one Lark request, as the route handlers see it.

use std::collections::HashMap;

use actix_web::HttpRequest;
use actix_web::web::Query;
use serde_json::{Map, Value};

use crate::envelope::Reply;

#[derive(Debug)]
pub(crate) struct Call<'a> {
    req: &'a HttpRequest,
    query: HashMap<String, String>,
    body: &'a [u8],
}

impl<'a> Call<'a> {
    pub(crate) fn new(req: &'a HttpRequest, body: &'a [u8]) -> Self {
        let query =
            Query::<HashMap<String, String>>::from_query(req.query_string()).map(Query::into_inner).unwrap_or_default();
        Self { req, query, body }
    }

    /// A path parameter of the route (`:chat_id`); routes only ask for ones their pattern has.
    pub(crate) fn param(&self, name: &str) -> &str {
        self.req.match_info().get(name).unwrap_or_default()
    }

    /// The `Authorization: Bearer` token, if any.
    pub(crate) fn bearer(&self) -> Option<&str> {
        let value = self.req.headers().get(actix_web::http::header::AUTHORIZATION)?.to_str().ok()?.trim();
        let token = value.strip_prefix("Bearer ").or_else(|| value.strip_prefix("bearer "))?.trim();
        (!token.is_empty()).then_some(token)
    }

    pub(crate) fn query(&self, name: &str) -> Option<&str> {
        self.query.get(name).map(String::as_str).filter(|v| !v.is_empty())
    }

    /// The JSON object body; an empty body reads as `{}` so required-field checks report it.
    pub(crate) fn object(&self, invalid_code: i64) -> Result<Map<String, Value>, Reply> {
        if self.body.iter().all(u8::is_ascii_whitespace) {
            return Ok(Map::new());
        }
        match serde_json::from_slice::<Value>(self.body) {
            Ok(Value::Object(map)) => Ok(map),
            Ok(_) => Err(Reply::error(invalid_code, "invalid param: the body must be a JSON object")),
            Err(e) => Err(Reply::error(invalid_code, format!("invalid param: body is not JSON: {e}"))),
        }
    }
}

/// A string field, absent when missing, not a string, or empty.
pub(crate) fn str_field<'m>(map: &'m Map<String, Value>, key: &str) -> Option<&'m str> {
    map.get(key).and_then(Value::as_str).filter(|s| !s.is_empty())
}

/// A list of strings; `Err` when present but not a list of strings.
pub(crate) fn str_list(map: &Map<String, Value>, key: &str) -> Result<Vec<String>, String> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| v.as_str().map(str::to_owned).ok_or_else(|| format!("{key} must hold strings")))
            .collect(),
        Some(_) => Err(format!("{key} must be a list of strings")),
    }
}
