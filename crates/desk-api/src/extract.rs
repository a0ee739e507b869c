//! Request extractors that answer bad input with problem+json naming the field:
//! [`Body`] for JSON bodies, [`Query`] for query strings, [`IdPath`] for ids in paths.

use std::future::Future;
use std::pin::Pin;
use std::str::FromStr;

use actix_web::dev::Payload;
use actix_web::error::PayloadError;
use actix_web::{FromRequest, HttpRequest, web};
use desk_core::FieldError;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};

use crate::error::ApiError;
use crate::state::AppState;

/// A JSON body: `application/json`, at most `DESK_MAX_BODY_BYTES`, no unknown fields
/// (the DTOs deny them), every type right; otherwise a 4xx that names the field.
#[derive(Debug)]
pub struct Body<T>(pub T);

impl<T> Body<T> {
    /// The parsed body.
    pub fn into_inner(self) -> T {
        self.0
    }
}

/// Turns a serde error message plus its path into the field at fault: serde reports an
/// unknown or missing field in the message ("unknown field `x`"), not in the path.
fn field_of(path: &str, message: &str) -> String {
    let path = if path == "." { "" } else { path };
    let named = ["unknown field `", "missing field `"]
        .iter()
        .find_map(|prefix| message.strip_prefix(prefix).and_then(|rest| rest.split('`').next()));
    match named {
        // serde_path_to_error already ends the path with an unknown field's name.
        Some(name) if path == name || path.ends_with(&format!(".{name}")) => path.to_owned(),
        Some(name) if path.is_empty() => name.to_owned(),
        Some(name) => format!("{path}.{name}"),
        None => path.to_owned(),
    }
}

/// Parses JSON bytes into `T`, or a problem naming the field.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    // serde's derive would also accept `[..]` for a struct, field by position; every body
    // here is an object, so say that plainly instead of blaming element `[0]`.
    if let Some(first) = bytes.iter().find(|b| !b.is_ascii_whitespace())
        && *first != b'{'
        && serde_json::from_slice::<serde::de::IgnoredAny>(bytes).is_ok()
    {
        let error = FieldError::new("", "the body must be a JSON object");
        return Err(ApiError::Validation {
            code: "invalid_body",
            detail: format!("the request body does not match the schema: {error}"),
            errors: vec![error],
        });
    }
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    match serde_path_to_error::deserialize::<_, T>(de) {
        Ok(v) => Ok(v),
        Err(err) => {
            let path = err.path().to_string();
            let inner = err.into_inner();
            let message = inner.to_string();
            // Strip serde_json's " at line 1 column 9" suffix: the field says where.
            let reason = message.split(" at line ").next().unwrap_or(&message).to_owned();
            if inner.is_syntax() || inner.is_eof() {
                Err(ApiError::BadRequest {
                    code: "malformed_json",
                    detail: format!("the request body is not valid JSON: {message}"),
                    errors: vec![],
                })
            } else {
                let field = field_of(&path, &reason);
                let error = FieldError::new(field, reason);
                Err(ApiError::Validation {
                    code: "invalid_body",
                    detail: format!("the request body does not match the schema: {error}"),
                    errors: vec![error],
                })
            }
        }
    }
}

impl<T: DeserializeOwned + 'static> FromRequest for Body<T> {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let is_json = req
            .headers()
            .get(actix_web::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .map(|v| {
                let v = v.trim().to_ascii_lowercase();
                v == "application/json" || (v.starts_with("application/") && v.ends_with("+json"))
            })
            .unwrap_or(false);
        let limit = req.app_data::<web::Data<AppState>>().map_or(256 * 1024, |s| s.settings.max_body_bytes);
        let declared = req
            .headers()
            .get(actix_web::http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok());
        let bytes = web::Bytes::from_request(req, payload);
        Box::pin(async move {
            if declared.is_some_and(|n| n > limit) {
                return Err(ApiError::PayloadTooLarge { limit });
            }
            if !is_json {
                return Err(ApiError::UnsupportedMediaType);
            }
            let bytes = bytes.await.map_err(|e| match e.as_error::<PayloadError>() {
                Some(PayloadError::Overflow) => ApiError::PayloadTooLarge { limit },
                _ => ApiError::BadRequest { code: "unreadable_body", detail: e.to_string(), errors: vec![] },
            })?;
            if bytes.len() > limit {
                return Err(ApiError::PayloadTooLarge { limit });
            }
            parse_json(&bytes).map(Body)
        })
    }
}

/// A query string parsed into `T` (which denies unknown parameters); a 400 names the
/// parameter otherwise.
#[derive(Debug)]
pub struct Query<T>(pub T);

impl<T: DeserializeOwned> FromRequest for Query<T> {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(req.query_string().as_bytes()));
        std::future::ready(serde_path_to_error::deserialize::<_, T>(de).map(Query).map_err(|err| {
            let path = err.path().to_string();
            let message = err.into_inner().to_string();
            ApiError::bad_query(field_of(&path, &message), message)
        }))
    }
}

/// An id in the path. A malformed id cannot name anything, so it is a 404 like any other
/// id that names nothing.
#[derive(Debug, Clone, Copy)]
pub struct IdPath<T>(pub T);

impl<T: FromStr + 'static> FromRequest for IdPath<T> {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let raw = req.match_info().get("id").unwrap_or_default();
        std::future::ready(
            raw.parse::<T>()
                .map(IdPath)
                .map_err(|_| ApiError::NotFound { code: "not_found", detail: format!("{raw:?} is not a valid id") }),
        )
    }
}

/// For PATCH bodies: tells "absent" (`None`) from "null" (`Some(None)`).
pub fn double_option<'de, D, T>(de: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(de).map(Some)
}

/// Splits a comma-separated query value and parses each part.
pub fn parse_list<T: FromStr>(field: &str, raw: Option<&str>) -> Result<Vec<T>, ApiError>
where
    T::Err: std::fmt::Display,
{
    raw.map(|r| r.split(',').map(str::trim).filter(|s| !s.is_empty()).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .map(|s| s.parse::<T>().map_err(|e| ApiError::bad_query(field, e.to_string())))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[expect(dead_code, reason = "fields exist to be deserialised")]
    struct Probe {
        title: String,
        count: u32,
    }

    fn field(err: ApiError) -> String {
        match err {
            ApiError::Validation { errors, .. } => errors[0].field.clone(),
            other => panic!("expected a validation error, got {other:?}"),
        }
    }

    #[test]
    fn unknown_missing_and_mistyped_fields_are_named() {
        assert_eq!(field(parse_json::<Probe>(br#"{"title":"x","count":1,"colour":"red"}"#).unwrap_err()), "colour");
        assert_eq!(field(parse_json::<Probe>(br#"{"count":1}"#).unwrap_err()), "title");
        assert_eq!(field(parse_json::<Probe>(br#"{"title":"x","count":"many"}"#).unwrap_err()), "count");
    }

    #[test]
    fn broken_json_is_a_bad_request() {
        assert!(matches!(
            parse_json::<Probe>(br#"{"title": "#).unwrap_err(),
            ApiError::BadRequest { code: "malformed_json", .. }
        ));
    }
}
