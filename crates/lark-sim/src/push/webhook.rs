//! One webhook POST the way Lark makes it (spec §6.2–§6.5).

use serde_json::{Value, json};

use super::Outcome;
use super::crypto;

/// POSTs `plaintext` (encrypted when the app set an Encrypt Key) with the signature headers.
///
/// Without an Encrypt Key the headers are still sent, signed with an empty key: the spec only says
/// they are meaningless then, and a client must not depend on their absence.
pub(super) async fn post(
    http: &reqwest::Client,
    url: &str,
    plaintext: &str,
    encrypt_key: Option<&str>,
    now_s: i64,
) -> Outcome {
    let body = match encrypt_key {
        Some(key) => json!({"encrypt": crypto::encrypt(key, plaintext.as_bytes())}).to_string(),
        None => plaintext.to_owned(),
    };
    let timestamp = now_s.to_string();
    let nonce = rand::random::<u32>().to_string();
    let signature = crypto::signature(&timestamp, &nonce, encrypt_key.unwrap_or_default(), body.as_bytes());
    let sent = http
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, "application/json; charset=utf-8")
        .header("X-Lark-Request-Timestamp", timestamp)
        .header("X-Lark-Request-Nonce", nonce)
        .header("X-Lark-Signature", signature)
        .body(body)
        .send()
        .await;
    let response = match sent {
        Ok(response) => response,
        Err(e) => return Outcome::failed(describe(&e)),
    };
    let status = response.status().as_u16();
    match response.bytes().await {
        Ok(bytes) if bytes.iter().all(u8::is_ascii_whitespace) => Outcome::answered(status, Some(json!({}))),
        Ok(bytes) => Outcome::answered(status, Some(serde_json::from_slice(&bytes).unwrap_or(Value::Null))),
        Err(e) => Outcome::failed(describe(&e)),
    }
}

/// The error and its causes on one line (reqwest's own message leaves out why the request failed).
fn describe(e: &reqwest::Error) -> String {
    let mut text = if e.is_timeout() { "no answer in time".to_owned() } else { e.to_string() };
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
