//! Inbound Lark deliveries (lark-spec.md §6, §5.3, §5.4): signature check, decryption,
//! verification-token check and classification of one webhook request.
//!
//! Which item to use when:
//! - [`Delivery::parse`] is the entry point for the HTTP layer: hand it the raw body and the
//!   three `X-Lark-*` headers, get back an [`Inbound`] (answer a URL check, or handle an
//!   [`Envelope`]) or an [`EventError`]. Events and `card.action.trigger` callbacks (schema
//!   2.0) share the envelope and the rules, so both come out as [`Inbound::Event`].
//! - [`decrypt`], [`encrypt`], [`signature`] and [`verify_signature`] are the primitives,
//!   public for the simulator (which pushes events) and for tests.
//! - [`verify_legacy_card_signature`] is for the legacy `card.action.trigger_v1` callback,
//!   which signs with SHA-1 and the verification token instead; [`Delivery::parse`] does not
//!   accept that body shape.
//!
//! Nothing here does I/O or reads the clock. The replay window on `X-Lark-Request-Timestamp`
//! is undocumented by Lark (§6.3) and is left to the caller, who has a clock.

use std::fmt::{self, Write as _};

use aes::Aes256;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use cbc::cipher::block_padding::Pkcs7;
use cbc::cipher::{BlockDecryptMut as _, BlockEncryptMut as _, KeyIvInit as _};
use serde_json::{Map, Value};
use sha1::Sha1;
use sha2::{Digest as _, Sha256};

/// Header carrying the signing timestamp (decimal seconds in every sample).
pub const TIMESTAMP_HEADER: &str = "X-Lark-Request-Timestamp";
/// Header carrying the signing nonce.
pub const NONCE_HEADER: &str = "X-Lark-Request-Nonce";
/// Header carrying the lowercase hex signature.
pub const SIGNATURE_HEADER: &str = "X-Lark-Signature";

/// `header.event_type` of the schema-2.0 card callback (§5.3).
pub const CARD_ACTION_TRIGGER: &str = "card.action.trigger";

const BLOCK: usize = 16;

/// Why an inbound delivery was refused. Every variant is the sender's fault or a
/// configuration mismatch, so the HTTP layer answers 4xx.
///
/// On a request that is not authenticated (no valid signature), answer the decryption
/// failures ([`Self::BadBase64`], [`Self::BadCiphertext`], [`Self::BadPadding`],
/// [`Self::DecryptedNotJson`]) with one and the same response: telling them apart to an
/// anonymous caller is a padding oracle. Log the variant instead.
#[derive(Debug, thiserror::Error)]
pub enum EventError {
    /// An encrypt key is configured, so Lark signs every push, but the headers are absent.
    #[error(
        "missing signature headers: an encrypt key is configured, so X-Lark-Request-Timestamp, \
         X-Lark-Request-Nonce and X-Lark-Signature are required"
    )]
    MissingSignature,
    /// The signature does not match the body.
    #[error(
        "X-Lark-Signature does not match: the encrypt key differs from the one in the Lark console, \
         or the body was altered (sign the exact raw bytes, never re-serialized JSON)"
    )]
    BadSignature,
    /// The `encrypt` value is not standard base64 with padding.
    #[error("the `encrypt` value is not standard base64")]
    BadBase64(#[source] base64::DecodeError),
    /// The decoded ciphertext cannot be IV plus whole AES blocks.
    #[error("the ciphertext is {len} bytes; expected a 16-byte IV plus a non-empty multiple of 16 bytes")]
    BadCiphertext {
        /// Decoded length in bytes.
        len: usize,
    },
    /// PKCS#7 padding is wrong after decryption: almost always the wrong encrypt key.
    #[error("invalid PKCS#7 padding after decryption: the encrypt key is probably wrong")]
    BadPadding,
    /// The request body is not a JSON object.
    #[error("the request body is not a JSON object")]
    NotJson(#[source] serde_json::Error),
    /// The decrypted payload is not a JSON object: the encrypt key is probably wrong.
    #[error("the decrypted payload is not a JSON object: the encrypt key is probably wrong")]
    DecryptedNotJson(#[source] serde_json::Error),
    /// The body's verification token is not the integration's.
    #[error("the verification token does not match the one configured for this integration")]
    WrongToken,
    /// A field the format requires is absent or not of the expected JSON type.
    #[error("missing or mistyped field `{0}`")]
    MissingField(&'static str),
    /// The body is `{"encrypt": …}` but no encrypt key is configured.
    #[error(
        "the body is encrypted but this integration has no encrypt key; configure the Encrypt Key from the Lark console"
    )]
    EncryptedWithoutKey,
    /// The body is plaintext but an encrypt key is configured.
    #[error(
        "the body is not encrypted but this integration has an encrypt key; set the same Encrypt Key \
         in the Lark console, or remove it here"
    )]
    PlaintextWithKey,
    /// A `schema` other than `"2.0"`.
    #[error("unsupported event schema {0:?}; only \"2.0\" and the unversioned v1 envelope are known")]
    UnsupportedSchema(String),
    /// The flat body of the legacy `card.action.trigger_v1` callback.
    #[error(
        "a legacy card.action.trigger_v1 callback: switch the app to the card.action.trigger (2.0) \
         callback, or verify it with verify_legacy_card_signature"
    )]
    LegacyCardCallback,
    /// Valid JSON, but neither a URL check, a v2 envelope nor a v1 event.
    #[error("not a Lark event: no `schema`, `uuid`, or `type` of url_verification / event_callback")]
    UnrecognizedBody,
}

/// The integration's secrets from the Lark console. An empty string counts as not configured.
#[derive(Clone, Copy, Default)]
pub struct Secrets<'a> {
    /// The Verification Token; checked against the body's token when set.
    pub verification_token: Option<&'a str>,
    /// The Encrypt Key; when set, bodies must be encrypted and events signed.
    pub encrypt_key: Option<&'a str>,
}

impl fmt::Debug for Secrets<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Secrets")
            .field("verification_token", &self.verification_token.map(|_| "<redacted>"))
            .field("encrypt_key", &self.encrypt_key.map(|_| "<redacted>"))
            .finish()
    }
}

/// One webhook request as received: the exact body bytes and the signature headers.
#[derive(Clone, Copy)]
pub struct Delivery<'a> {
    /// The raw HTTP body. The signature covers these bytes, so never re-serialize them.
    pub body: &'a [u8],
    /// [`TIMESTAMP_HEADER`].
    pub timestamp: Option<&'a str>,
    /// [`NONCE_HEADER`].
    pub nonce: Option<&'a str>,
    /// [`SIGNATURE_HEADER`].
    pub signature: Option<&'a str>,
}

impl fmt::Debug for Delivery<'_> {
    // Bodies are message contents: print their length only (house rule: never log bodies).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Delivery")
            .field("body_len", &self.body.len())
            .field("timestamp", &self.timestamp)
            .field("nonce", &self.nonce)
            .field("signature", &self.signature.is_some())
            .finish()
    }
}

/// What a verified delivery asks of us.
#[derive(Debug, Clone, PartialEq)]
pub enum Inbound {
    /// Lark checks the request URL: answer HTTP 200 with [`challenge_response`] (plaintext,
    /// never encrypted) within one second.
    UrlVerification {
        /// The value to echo.
        challenge: String,
    },
    /// An event or a schema-2.0 card callback.
    Event(Envelope),
}

/// The envelope of an event or card callback, with the fields every handler needs lifted out.
/// `Debug` prints the event itself: do not log it (house rule: no message bodies in logs).
#[derive(Debug, Clone, PartialEq)]
pub struct Envelope {
    /// Which envelope it came in.
    pub schema: Schema,
    /// The de-duplication key: v2 `header.event_id`, v1 `uuid` (§6.5).
    pub event_id: String,
    /// v2 `header.event_type`, v1 `event.type`.
    pub event_type: String,
    /// The creation time exactly as sent: v2 `header.create_time`, v1 `ts`.
    pub create_time_raw: Option<String>,
    /// [`Self::create_time_raw`] in Unix milliseconds, when it parses. v2 senders mix
    /// milliseconds (IM events) and microseconds (card callbacks) (§6.6); see
    /// [`millis_from_epoch_number`] for how the unit is told apart.
    pub create_time_ms: Option<i64>,
    /// The verification token in the body: v2 `header.token`, v1 top-level `token`.
    pub token: Option<String>,
    /// The tenant: v2 `header.tenant_key`, v1 `event.tenant_key`.
    pub tenant_key: Option<String>,
    /// The app: v2 `header.app_id`, v1 `event.app_id`.
    pub app_id: Option<String>,
    /// The `event` object.
    pub event: Value,
}

impl Envelope {
    /// Whether this is a `card.action.trigger` callback, which must be answered (with a
    /// toast and/or card, or `{}`) within 3 seconds (§5.3).
    pub fn is_card_action(&self) -> bool {
        self.event_type == CARD_ACTION_TRIGGER
    }
}

/// The envelope version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Schema {
    /// `"schema": "2.0"`, with a `header` object.
    V2,
    /// The unversioned legacy envelope (`"type": "event_callback"`, `uuid`, `ts`).
    V1,
}

impl Schema {
    /// `"2.0"` or `"1.0"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::V2 => "2.0",
            Self::V1 => "1.0",
        }
    }
}

/// The body that answers a URL check: `{"challenge": "<same value>"}`.
pub fn challenge_response(challenge: &str) -> String {
    serde_json::json!({ "challenge": challenge }).to_string()
}

impl Delivery<'_> {
    /// Authenticates, decrypts and classifies the delivery (lark-spec.md §6):
    ///
    /// - With an encrypt key the body must be `{"encrypt": …}`. Events must carry the three
    ///   signature headers, checked over the raw body before decrypting; the URL check is
    ///   exempt (Lark does not sign it), but is verified when the headers are present.
    /// - With a verification token, the token inside the (decrypted) payload must match,
    ///   for the URL check too.
    /// - Without an encrypt key the token is the only check, and an encrypted body is refused.
    ///   With neither configured nothing is authenticated: any well-formed body is accepted.
    pub fn parse(&self, secrets: &Secrets<'_>) -> Result<Inbound, EventError> {
        let encrypt_key = non_empty(secrets.encrypt_key);
        let token = non_empty(secrets.verification_token);

        let mut outer: Map<String, Value> = serde_json::from_slice(self.body).map_err(EventError::NotJson)?;
        let (payload, signed) = match (outer.remove("encrypt"), encrypt_key) {
            (Some(_), None) => return Err(EventError::EncryptedWithoutKey),
            (None, Some(_)) => return Err(EventError::PlaintextWithKey),
            (None, None) => (outer, false),
            (Some(encrypted), Some(key)) => {
                let Value::String(encrypted) = encrypted else { return Err(EventError::MissingField("encrypt")) };
                // Authenticate before decrypting whenever we can.
                let signed = match (self.timestamp, self.nonce, self.signature) {
                    (Some(ts), Some(nonce), Some(sig)) => {
                        verify_signature(ts, nonce, key, self.body, sig)?;
                        true
                    }
                    _ => false,
                };
                let plaintext = decrypt(key, &encrypted)?;
                let payload = serde_json::from_slice(&plaintext).map_err(EventError::DecryptedNotJson)?;
                (payload, signed)
            }
        };

        let classified = classify(payload)?;
        if encrypt_key.is_some() && !signed && matches!(classified, Classified::Event(_)) {
            return Err(EventError::MissingSignature);
        }
        if let Some(expected) = token {
            let (got, field) = match &classified {
                Classified::Challenge { token, .. } => (token.as_deref(), "token"),
                Classified::Event(envelope) => {
                    (envelope.token.as_deref(), if envelope.schema == Schema::V2 { "header.token" } else { "token" })
                }
            };
            let got = got.ok_or(EventError::MissingField(field))?;
            if !constant_time_eq(got.as_bytes(), expected.as_bytes()) {
                return Err(EventError::WrongToken);
            }
        }
        Ok(match classified {
            Classified::Challenge { challenge, .. } => Inbound::UrlVerification { challenge },
            Classified::Event(envelope) => Inbound::Event(envelope),
        })
    }
}

/// A payload sorted by shape, before the token check.
enum Classified {
    Challenge { challenge: String, token: Option<String> },
    Event(Envelope),
}

fn classify(mut payload: Map<String, Value>) -> Result<Classified, EventError> {
    if payload.get("type").and_then(Value::as_str) == Some("url_verification") {
        let challenge = take_string(&mut payload, "challenge").ok_or(EventError::MissingField("challenge"))?;
        return Ok(Classified::Challenge { challenge, token: take_string(&mut payload, "token") });
    }
    if let Some(schema) = payload.get("schema") {
        return match schema.as_str() {
            Some("2.0") => envelope_v2(payload).map(Classified::Event),
            Some(other) => Err(EventError::UnsupportedSchema(other.to_owned())),
            None => Err(EventError::MissingField("schema")),
        };
    }
    if payload.contains_key("uuid") || payload.get("type").and_then(Value::as_str) == Some("event_callback") {
        return envelope_v1(payload).map(Classified::Event);
    }
    // The legacy card body is flat: the clicker's ids, the card token (`c-…`, not the
    // verification token) and `action` (§5.4).
    if payload.contains_key("action") && payload.contains_key("open_message_id") {
        return Err(EventError::LegacyCardCallback);
    }
    Err(EventError::UnrecognizedBody)
}

fn envelope_v2(mut payload: Map<String, Value>) -> Result<Envelope, EventError> {
    let Some(Value::Object(mut header)) = payload.remove("header") else {
        return Err(EventError::MissingField("header"));
    };
    let event = payload.remove("event").ok_or(EventError::MissingField("event"))?;
    let create_time_raw = take_string(&mut header, "create_time");
    Ok(Envelope {
        schema: Schema::V2,
        event_id: take_string(&mut header, "event_id").ok_or(EventError::MissingField("header.event_id"))?,
        event_type: take_string(&mut header, "event_type").ok_or(EventError::MissingField("header.event_type"))?,
        create_time_ms: create_time_raw.as_deref().and_then(millis_from_epoch_number),
        create_time_raw,
        token: take_string(&mut header, "token"),
        tenant_key: take_string(&mut header, "tenant_key"),
        app_id: take_string(&mut header, "app_id"),
        event,
    })
}

fn envelope_v1(mut payload: Map<String, Value>) -> Result<Envelope, EventError> {
    let event = payload.remove("event").ok_or(EventError::MissingField("event"))?;
    let field = |name: &str| event.get(name).and_then(Value::as_str).map(str::to_owned);
    let create_time_raw = take_string(&mut payload, "ts");
    Ok(Envelope {
        schema: Schema::V1,
        event_id: take_string(&mut payload, "uuid").ok_or(EventError::MissingField("uuid"))?,
        event_type: field("type").ok_or(EventError::MissingField("event.type"))?,
        create_time_ms: create_time_raw.as_deref().and_then(millis_from_seconds),
        create_time_raw,
        token: take_string(&mut payload, "token"),
        tenant_key: field("tenant_key"),
        app_id: field("app_id"),
        event,
    })
}

fn take_string(map: &mut Map<String, Value>, key: &str) -> Option<String> {
    match map.remove(key) {
        Some(Value::String(s)) => Some(s),
        _ => None,
    }
}

fn non_empty(s: Option<&str>) -> Option<&str> {
    s.filter(|s| !s.is_empty())
}

/// Reads an integer Unix time of unknown unit and returns milliseconds. Lark's v2
/// `header.create_time` is milliseconds for IM events and microseconds for card callbacks
/// (§6.6), so the unit is told apart by magnitude: below 10^11 it is seconds, below 10^14
/// milliseconds, below 10^17 microseconds, else nanoseconds. Each bracket is unambiguous for
/// any instant between 1973 and 5138. `None` unless the text is all ASCII digits.
pub fn millis_from_epoch_number(raw: &str) -> Option<i64> {
    if raw.is_empty() || !raw.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: i64 = raw.parse().ok()?;
    Some(match n {
        0..100_000_000_000 => n.checked_mul(1000)?,
        100_000_000_000..100_000_000_000_000 => n,
        100_000_000_000_000..100_000_000_000_000_000 => n / 1000,
        _ => n / 1_000_000,
    })
}

/// v1 `ts`: decimal seconds with an optional fraction (`"1502199207.7171419"`), read without
/// floating point.
fn millis_from_seconds(raw: &str) -> Option<i64> {
    let (secs, frac) = raw.split_once('.').unwrap_or((raw, ""));
    if secs.is_empty() || !secs.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit()) {
        return None;
    }
    let millis = frac.bytes().chain(std::iter::repeat(b'0')).take(3).fold(0, |acc, d| acc * 10 + i64::from(d - b'0'));
    secs.parse::<i64>().ok()?.checked_mul(1000)?.checked_add(millis)
}

/// Decrypts an `encrypt` value (§6.2): base64 of a 16-byte IV followed by AES-256-CBC
/// ciphertext under `SHA-256(encrypt_key)`, PKCS#7 padded. Padding is checked strictly (the
/// official Go SDK's "trim to the braces" shortcut is deliberately not copied).
pub fn decrypt(encrypt_key: &str, encrypted_b64: &str) -> Result<Vec<u8>, EventError> {
    let raw = BASE64.decode(encrypted_b64).map_err(EventError::BadBase64)?;
    let len = raw.len();
    let (iv, ciphertext) = raw.split_first_chunk::<BLOCK>().ok_or(EventError::BadCiphertext { len })?;
    if ciphertext.is_empty() || ciphertext.len() % BLOCK != 0 {
        return Err(EventError::BadCiphertext { len });
    }
    let key = Sha256::digest(encrypt_key.as_bytes());
    cbc::Decryptor::<Aes256>::new(&key, &(*iv).into())
        .decrypt_padded_vec_mut::<Pkcs7>(ciphertext)
        .map_err(|_| EventError::BadPadding)
}

/// Encrypts `plaintext` the way Lark does (§6.2), with the given IV. Lark draws a random IV
/// per push; the caller supplies it so that tests and the simulator stay deterministic.
pub fn encrypt(encrypt_key: &str, iv: [u8; 16], plaintext: &[u8]) -> String {
    let key = Sha256::digest(encrypt_key.as_bytes());
    let ciphertext = cbc::Encryptor::<Aes256>::new(&key, &iv.into()).encrypt_padded_vec_mut::<Pkcs7>(plaintext);
    let mut wire = Vec::with_capacity(BLOCK + ciphertext.len());
    wire.extend_from_slice(&iv);
    wire.extend_from_slice(&ciphertext);
    BASE64.encode(wire)
}

/// `X-Lark-Signature` for a push (§6.3): lowercase hex of
/// `SHA-256(timestamp ‖ nonce ‖ encrypt_key ‖ raw body)`.
pub fn signature(timestamp: &str, nonce: &str, encrypt_key: &str, body: &[u8]) -> String {
    let mut hash = Sha256::new();
    hash.update(timestamp.as_bytes());
    hash.update(nonce.as_bytes());
    hash.update(encrypt_key.as_bytes());
    hash.update(body);
    lower_hex(&hash.finalize())
}

/// Checks `X-Lark-Signature` against [`signature`] in constant time.
pub fn verify_signature(
    timestamp: &str,
    nonce: &str,
    encrypt_key: &str,
    body: &[u8],
    signature_header: &str,
) -> Result<(), EventError> {
    let expected = signature(timestamp, nonce, encrypt_key, body);
    if constant_time_eq(expected.as_bytes(), signature_header.as_bytes()) {
        Ok(())
    } else {
        Err(EventError::BadSignature)
    }
}

/// The legacy `card.action.trigger_v1` signature (§5.4): lowercase hex of
/// `SHA-1(timestamp ‖ nonce ‖ verification_token ‖ raw body)`. Not the encrypt key, not SHA-256.
pub fn legacy_card_signature(timestamp: &str, nonce: &str, verification_token: &str, body: &[u8]) -> String {
    let mut hash = Sha1::new();
    hash.update(timestamp.as_bytes());
    hash.update(nonce.as_bytes());
    hash.update(verification_token.as_bytes());
    hash.update(body);
    lower_hex(&hash.finalize())
}

/// Checks a legacy card callback's `X-Lark-Signature` against [`legacy_card_signature`] in
/// constant time.
pub fn verify_legacy_card_signature(
    timestamp: &str,
    nonce: &str,
    verification_token: &str,
    body: &[u8],
    signature_header: &str,
) -> Result<(), EventError> {
    let expected = legacy_card_signature(timestamp, nonce, verification_token, body);
    if constant_time_eq(expected.as_bytes(), signature_header.as_bytes()) {
        Ok(())
    } else {
        Err(EventError::BadSignature)
    }
}

// Hand-written rather than the `hex` crate: it is one loop, and `hex` would be a new direct
// dependency of the client half for it.
fn lower_hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        // Writing to a String cannot fail.
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// Compares secrets without an early exit, so the time taken does not tell a forger how many
/// leading bytes were right. Hand-written because `subtle` is only a transitive dependency
/// here and this loop is short enough to audit; `black_box` keeps the optimizer from turning
/// it back into a short-circuiting compare. Lengths are not secret (a signature is always
/// 40 or 64 hex digits), so a length mismatch returns at once.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | std::hint::black_box(x ^ y));
    diff == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_time_eq_compares_whole_slices() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
        assert!(constant_time_eq(b"", b""));
    }

    #[test]
    fn epoch_numbers_of_every_unit_become_millis() {
        assert_eq!(millis_from_epoch_number("1735689600"), Some(1_735_689_600_000));
        assert_eq!(millis_from_epoch_number("1735689600123"), Some(1_735_689_600_123));
        assert_eq!(millis_from_epoch_number("1735689700000000"), Some(1_735_689_700_000));
        assert_eq!(millis_from_epoch_number("1735689700000000999"), Some(1_735_689_700_000));
        assert_eq!(millis_from_epoch_number(""), None);
        assert_eq!(millis_from_epoch_number("-1"), None);
        assert_eq!(millis_from_epoch_number("17356896001x"), None);
        assert_eq!(millis_from_epoch_number("99999999999999999999"), None);
    }

    #[test]
    fn v1_ts_is_read_without_floats() {
        assert_eq!(millis_from_seconds("1502199207.7171419"), Some(1_502_199_207_717));
        assert_eq!(millis_from_seconds("1589970805.3"), Some(1_589_970_805_300));
        assert_eq!(millis_from_seconds("1589970805"), Some(1_589_970_805_000));
        assert_eq!(millis_from_seconds("1589970805."), Some(1_589_970_805_000));
        assert_eq!(millis_from_seconds(".5"), None);
        assert_eq!(millis_from_seconds("15e8"), None);
    }

    #[test]
    fn hex_is_lowercase_and_padded() {
        assert_eq!(lower_hex(&[0x00, 0x0f, 0xab, 0xff]), "000fabff");
    }

    #[test]
    fn debug_redacts_secrets_and_bodies() {
        let secrets = Secrets { verification_token: Some("vt-secret"), encrypt_key: Some("ek-secret") };
        let delivery = Delivery { body: b"{\"secret\":1}", timestamp: None, nonce: None, signature: Some("sig") };
        let printed = format!("{secrets:?} {delivery:?}");
        for leak in ["vt-secret", "ek-secret", "\"secret\"", "\"sig\""] {
            assert!(!printed.contains(leak), "{leak} leaked: {printed}");
        }
    }
}
