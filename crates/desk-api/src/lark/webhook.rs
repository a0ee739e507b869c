//! `POST /lark/{integration}/events` and `/lark/{integration}/cards`: Lark's webhook
//! pushes. Both accept events and card callbacks alike (Lark lets an app point both at
//! one URL); what differs is only what the console sends where.

use actix_web::{HttpRequest, HttpResponse, web};
use desk_store::Via;
use lark_notify::events::{
    Delivery, EventError, Inbound as Parsed, NONCE_HEADER, SIGNATURE_HEADER, Secrets, TIMESTAMP_HEADER,
    challenge_response,
};
use secrecy::ExposeSecret;
use serde_json::json;

use super::inbound::{IngestError, Ingested};
use crate::error::{ApiError, Problem};
use crate::state::AppState;

/// Event pushes (`im.message.receive_v1`, membership, …) and the URL check. The body is
/// Lark's, plaintext or `{"encrypt": …}`; with an encrypt key the `X-Lark-*` signature
/// headers are required. Answered `{"msg":"success"}` once the event is stored (or was
/// already), `{"challenge": …}` to a URL check.
#[utoipa::path(post, path = "/lark/{integration}/events", tag = "lark",
    params(("integration" = String, Path, description = "Integration id")),
    request_body(content = String, content_type = "application/json", description = "Lark's push, as sent"),
    responses(
        (status = 200, description = "Accepted, a duplicate, or a replay ignored; or the URL check's answer", content_type = "application/json"),
        (status = 400, body = Problem, description = "Not a Lark delivery this integration can read"),
        (status = 401, body = Problem, description = "Signature, token or app do not match this integration"),
        (status = 404, body = Problem, description = "No such integration")))]
pub async fn events(
    state: web::Data<AppState>,
    path: web::Path<String>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    receive(&state, &path, &req, &body).await
}

/// Card callbacks (`card.action.trigger`) and the URL check, answered within Lark's three
/// seconds with a toast and, when the ticket changed, its new card.
#[utoipa::path(post, path = "/lark/{integration}/cards", tag = "lark",
    params(("integration" = String, Path, description = "Integration id")),
    request_body(content = String, content_type = "application/json", description = "Lark's callback, as sent"),
    responses(
        (status = 200, description = "`{\"toast\":…,\"card\":…}`, `{}`, or the URL check's answer", content_type = "application/json"),
        (status = 400, body = Problem, description = "Not a Lark delivery this integration can read"),
        (status = 401, body = Problem, description = "Signature, token or app do not match this integration"),
        (status = 404, body = Problem, description = "No such integration")))]
pub async fn cards(
    state: web::Data<AppState>,
    path: web::Path<String>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    receive(&state, &path, &req, &body).await
}

fn header<'a>(req: &'a HttpRequest, name: &str) -> Option<&'a str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}

async fn receive(state: &AppState, id: &str, req: &HttpRequest, body: &[u8]) -> Result<HttpResponse, ApiError> {
    let integration = state.store.integration(id).await?;
    let secrets = state.store.integration_secrets(id, state.secret_box.as_ref()).await?;
    let timestamp = header(req, TIMESTAMP_HEADER);
    if let (Some(max_age), Some(ts)) = (state.settings.lark_max_request_age, timestamp) {
        let now = state.clock.now().timestamp();
        let fresh = ts.parse::<i64>().is_ok_and(|ts| now.abs_diff(ts) <= max_age.as_secs());
        if !fresh {
            return Err(ApiError::LarkRefused {
                code: "lark_request_stale",
                detail: format!(
                    "{TIMESTAMP_HEADER} is more than {}s away from this server's clock (DESK_LARK_MAX_REQUEST_AGE)",
                    max_age.as_secs()
                ),
            });
        }
    }
    let delivery =
        Delivery { body, timestamp, nonce: header(req, NONCE_HEADER), signature: header(req, SIGNATURE_HEADER) };
    let token = secrets.verification_token.as_ref().map(|t| t.expose_secret().to_owned());
    let key = secrets.encrypt_key.as_ref().map(|k| k.expose_secret().to_owned());
    let parsed = delivery.parse(&Secrets { verification_token: token.as_deref(), encrypt_key: key.as_deref() });
    let env = match parsed {
        Ok(Parsed::UrlVerification { challenge }) => {
            return Ok(HttpResponse::Ok().content_type("application/json").body(challenge_response(&challenge)));
        }
        Ok(Parsed::Event(env)) => env,
        Err(e) => return Err(refusal(id, e)),
    };
    match state.inbound.ingest(&integration, env, Via::Webhook).await {
        Ok(Ingested::Answer(answer)) => Ok(HttpResponse::Ok().json(answer)),
        Ok(Ingested::Accepted | Ingested::Duplicate | Ingested::Stale) => {
            Ok(HttpResponse::Ok().json(json!({ "msg": "success" })))
        }
        Err(IngestError::Store(e)) => Err(e.into()),
        Err(e @ IngestError::OtherApp(_)) => {
            Err(ApiError::LarkRefused { code: "lark_wrong_app", detail: e.to_string() })
        }
        Err(e @ IngestError::NoEventId) => {
            Err(ApiError::BadRequest { code: "lark_body_invalid", detail: e.to_string(), errors: Vec::new() })
        }
    }
}

/// A refused delivery: a clear 4xx, logged with its reason (never with the body).
fn refusal(integration: &str, e: EventError) -> ApiError {
    tracing::warn!(integration.id = %integration, reason = %e, "Lark delivery refused");
    match e {
        EventError::MissingSignature | EventError::BadSignature => {
            ApiError::LarkRefused { code: "lark_signature_invalid", detail: e.to_string() }
        }
        EventError::WrongToken => ApiError::LarkRefused { code: "lark_token_invalid", detail: e.to_string() },
        // One answer for every way decryption can fail: on a request whose signature did
        // not vouch for it, telling them apart would be a padding oracle.
        EventError::BadBase64(_)
        | EventError::BadCiphertext { .. }
        | EventError::BadPadding
        | EventError::DecryptedNotJson(_) => ApiError::BadRequest {
            code: "lark_undecryptable",
            detail: "the body could not be decrypted with this integration's encrypt key".to_owned(),
            errors: Vec::new(),
        },
        EventError::EncryptedWithoutKey | EventError::PlaintextWithKey => {
            ApiError::BadRequest { code: "lark_encryption_mismatch", detail: e.to_string(), errors: Vec::new() }
        }
        EventError::NotJson(_)
        | EventError::MissingField(_)
        | EventError::UnsupportedSchema(_)
        | EventError::LegacyCardCallback
        | EventError::UnrecognizedBody => {
            ApiError::BadRequest { code: "lark_body_invalid", detail: e.to_string(), errors: Vec::new() }
        }
    }
}
