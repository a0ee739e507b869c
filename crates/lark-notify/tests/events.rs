//! Inbound delivery crypto and classification against lark-spec.md §12's vectors
//! (`tests/vectors/lark-vectors.json`, a copy of the shared file) and the fixture bodies.
#![expect(
    clippy::unwrap_used,
    clippy::panic,
    reason = "test helpers are not #[test] functions; a panic is the failure report"
)]

use std::sync::LazyLock;

use lark_notify::events::{
    self, Delivery, Envelope, EventError, Inbound, Schema, Secrets, challenge_response, decrypt, encrypt,
    legacy_card_signature, signature, verify_legacy_card_signature, verify_signature,
};
use serde_json::{Value, json};

static VECTORS: LazyLock<Value> =
    LazyLock::new(|| serde_json::from_str(include_str!("vectors/lark-vectors.json")).unwrap());

const TOKEN: &str = "vTokenFixture0000000000000000000";
const KEY: &str = "kX9mQ2vT7pL4wR8zN3cF6hJ1dS5gB0aY";

fn vector(id: &str) -> &'static Value {
    VECTORS["vectors"].as_array().unwrap().iter().find(|v| v["id"] == id).unwrap()
}

fn s<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key].as_str().unwrap()
}

fn iv(v: &Value) -> [u8; 16] {
    let hex = s(v, "iv_hex").as_bytes();
    std::array::from_fn(|i| u8::from_str_radix(std::str::from_utf8(&hex[2 * i..2 * i + 2]).unwrap(), 16).unwrap())
}

fn secrets<'a>(token: Option<&'a str>, key: Option<&'a str>) -> Secrets<'a> {
    Secrets { verification_token: token, encrypt_key: key }
}

fn plain(body: &[u8]) -> Delivery<'_> {
    Delivery { body, timestamp: None, nonce: None, signature: None }
}

/// A body as Lark would push it with `key`: encrypted and signed.
struct Push {
    body: String,
    signature: String,
}

impl Push {
    const TS: &str = "1735689601";
    const NONCE: &str = "2047881934";

    fn new(key: &str, plaintext: &[u8]) -> Self {
        let body = json!({ "encrypt": encrypt(key, [7; 16], plaintext) }).to_string();
        let signature = signature(Self::TS, Self::NONCE, key, body.as_bytes());
        Self { body, signature }
    }

    fn delivery(&self) -> Delivery<'_> {
        Delivery {
            body: self.body.as_bytes(),
            timestamp: Some(Self::TS),
            nonce: Some(Self::NONCE),
            signature: Some(&self.signature),
        }
    }
}

fn event(inbound: Result<Inbound, EventError>) -> Envelope {
    match inbound {
        Ok(Inbound::Event(envelope)) => envelope,
        other => panic!("expected an event, got {other:?}"),
    }
}

// ---- decryption ----

#[test]
fn every_decrypt_vector_decrypts_to_its_plaintext() {
    for id in [
        "decrypt_official_doc_hello_world",
        "decrypt_doc_page_sample_v1_event",
        "decrypt_v1_message_event_third_party",
        "webhook_im_message_receive_v1_encrypted",
    ] {
        let v = vector(id);
        let plaintext = decrypt(s(v, "encrypt_key"), s(v, "encrypt")).unwrap();
        assert_eq!(plaintext, s(v, "plaintext").as_bytes(), "{id}");
    }
}

#[test]
fn url_verification_vector_decrypts_from_its_body() {
    let v = vector("webhook_url_verification_encrypted");
    let body: Value = serde_json::from_str(s(&v["http"], "body")).unwrap();
    let plaintext = decrypt(s(v, "encrypt_key"), s(&body, "encrypt")).unwrap();
    assert_eq!(plaintext, s(v, "plaintext").as_bytes());
}

#[test]
fn encrypting_with_the_vector_iv_reproduces_lark_bytes_exactly() {
    let v = vector("webhook_im_message_receive_v1_encrypted");
    assert_eq!(encrypt(s(v, "encrypt_key"), iv(v), s(v, "plaintext").as_bytes()), s(v, "encrypt"));

    let v = vector("webhook_url_verification_encrypted");
    let expected =
        serde_json::to_string(&json!({ "encrypt": encrypt(s(v, "encrypt_key"), iv(v), s(v, "plaintext").as_bytes()) }))
            .unwrap();
    assert_eq!(expected, s(&v["http"], "body"));
}

#[test]
fn encrypt_then_decrypt_round_trips_every_length() {
    for len in [0, 1, 15, 16, 17, 31, 32, 33, 1000] {
        let plaintext: Vec<u8> = (0..len).map(|i| (i * 7 % 256) as u8).collect();
        let wire = encrypt("round trip", [0xa5; 16], &plaintext);
        // PKCS#7 always pads: an aligned plaintext gains a whole block.
        let expected_len = 16 + (len / 16 + 1) * 16;
        assert_eq!(base64_len(&wire), expected_len, "len {len}");
        assert_eq!(decrypt("round trip", &wire).unwrap(), plaintext, "len {len}");
    }
}

fn base64_len(b64: &str) -> usize {
    b64.len() / 4 * 3 - b64.bytes().rev().take_while(|&b| b == b'=').count()
}

#[test]
fn bad_base64_is_refused() {
    assert!(matches!(decrypt("test key", "not base64!!"), Err(EventError::BadBase64(_))));
    // Lark pads; unpadded input is not what it sends.
    assert!(matches!(
        decrypt("test key", "P37w+VZImNgPEO1RBhJ6RtKl7n6zymIbEG1pReEzghk"),
        Err(EventError::BadBase64(_))
    ));
}

#[test]
fn ciphertext_of_the_wrong_length_is_refused() {
    use base64::Engine as _;
    let b64 = |n: usize| base64::engine::general_purpose::STANDARD.encode(vec![0u8; n]);
    for len in [0, 15, 16, 31, 33, 47] {
        assert!(matches!(decrypt("k", &b64(len)), Err(EventError::BadCiphertext { len: l }) if l == len), "len {len}");
    }
}

fn hello_world_bytes() -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.decode(s(vector("decrypt_official_doc_hello_world"), "encrypt")).unwrap()
}

fn reencode(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[test]
fn a_flipped_last_ciphertext_byte_breaks_the_padding() {
    let mut bytes = hello_world_bytes();
    *bytes.last_mut().unwrap() ^= 0x01;
    assert!(matches!(decrypt("test key", &reencode(&bytes)), Err(EventError::BadPadding)));
}

#[test]
fn a_flipped_iv_byte_changes_the_pad_byte_and_is_refused() {
    // CBC: flipping IV byte 15 flips plaintext byte 15 of the first block, the last pad byte
    // of "hello world" (0x05 → 0x04). Strict PKCS#7 must reject it; a lenient "read the last
    // byte and cut" unpadder would return "hello world\x05" instead.
    let mut bytes = hello_world_bytes();
    bytes[15] ^= 0x01;
    assert!(matches!(decrypt("test key", &reencode(&bytes)), Err(EventError::BadPadding)));
}

#[test]
fn the_wrong_key_is_refused() {
    let v = vector("decrypt_official_doc_hello_world");
    assert!(matches!(decrypt("wrong key", s(v, "encrypt")), Err(EventError::BadPadding)));
}

// ---- signatures ----

#[test]
fn signature_vectors_match() {
    let v = vector("signature_simple");
    let sig = signature(s(v, "timestamp"), s(v, "nonce"), s(v, "encrypt_key"), s(v, "body").as_bytes());
    assert_eq!(sig, s(v, "expected_signature"));
    verify_signature(s(v, "timestamp"), s(v, "nonce"), s(v, "encrypt_key"), s(v, "body").as_bytes(), &sig).unwrap();

    let v = vector("webhook_im_message_receive_v1_encrypted");
    let headers = &v["http"]["headers"];
    let sig = signature(
        s(headers, "X-Lark-Request-Timestamp"),
        s(headers, "X-Lark-Request-Nonce"),
        s(v, "encrypt_key"),
        s(&v["http"], "body").as_bytes(),
    );
    assert_eq!(sig, s(v, "expected_signature"));
    assert_eq!(sig, s(headers, "X-Lark-Signature"));
}

#[test]
fn a_tampered_signature_or_body_is_refused() {
    let v = vector("signature_simple");
    let (ts, nonce, key, body) = (s(v, "timestamp"), s(v, "nonce"), s(v, "encrypt_key"), s(v, "body"));
    let good = s(v, "expected_signature");
    let mut flipped = good.to_owned();
    flipped.replace_range(63.., if good.ends_with('5') { "6" } else { "5" });
    for bad in [flipped.as_str(), &good.to_uppercase(), &good[..63], "", &format!("{good} ")] {
        assert!(
            matches!(verify_signature(ts, nonce, key, body.as_bytes(), bad), Err(EventError::BadSignature)),
            "{bad:?}"
        );
    }
    let mut altered = body.as_bytes().to_vec();
    altered.push(b' ');
    assert!(matches!(verify_signature(ts, nonce, key, &altered, good), Err(EventError::BadSignature)));
    assert!(matches!(verify_signature(ts, nonce, "other key", body.as_bytes(), good), Err(EventError::BadSignature)));
}

#[test]
fn legacy_card_sha1_signature_vector_matches() {
    let v = vector("legacy_card_callback_signature_sha1");
    let (ts, nonce, token, body) = (s(v, "timestamp"), s(v, "nonce"), s(v, "verification_token"), s(v, "body"));
    assert_eq!(legacy_card_signature(ts, nonce, token, body.as_bytes()), s(v, "expected_signature"));
    verify_legacy_card_signature(ts, nonce, token, body.as_bytes(), s(v, "expected_signature")).unwrap();
    // The SHA-256 event rule does not validate it, and a tampered SHA-1 fails.
    assert!(verify_signature(ts, nonce, token, body.as_bytes(), s(v, "expected_signature")).is_err());
    assert!(matches!(
        verify_legacy_card_signature(ts, nonce, "other token", body.as_bytes(), s(v, "expected_signature")),
        Err(EventError::BadSignature)
    ));
}

// ---- full deliveries ----

fn webhook_vector_delivery() -> Delivery<'static> {
    let v = vector("webhook_im_message_receive_v1_encrypted");
    let headers = &v["http"]["headers"];
    Delivery {
        body: s(&v["http"], "body").as_bytes(),
        timestamp: Some(s(headers, events::TIMESTAMP_HEADER)),
        nonce: Some(s(headers, events::NONCE_HEADER)),
        signature: Some(s(headers, events::SIGNATURE_HEADER)),
    }
}

#[test]
fn the_encrypted_im_message_push_parses_into_its_envelope() {
    let v = vector("webhook_im_message_receive_v1_encrypted");
    let envelope =
        event(webhook_vector_delivery().parse(&secrets(Some(s(v, "verification_token")), Some(s(v, "encrypt_key")))));
    let plaintext: Value = serde_json::from_str(s(v, "plaintext")).unwrap();
    assert_eq!(
        envelope,
        Envelope {
            schema: Schema::V2,
            event_id: "f1c2d3e4a5b60718293a4b5c6d7e8f90".into(),
            event_type: "im.message.receive_v1".into(),
            create_time_raw: Some("1735689600123".into()),
            create_time_ms: Some(1_735_689_600_123),
            token: Some(TOKEN.into()),
            tenant_key: Some("2ca1d211f64f6438".into()),
            app_id: Some("cli_a1b2c3d4e5f60718".into()),
            event: plaintext["event"].clone(),
        }
    );
    assert!(!envelope.is_card_action());
    // The token is optional configuration: the signature alone authenticates.
    event(webhook_vector_delivery().parse(&secrets(None, Some(KEY))));
}

#[test]
fn the_sdk_negative_case_signature_is_refused() {
    let v = vector("webhook_im_message_receive_v1_encrypted");
    let delivery =
        Delivery { signature: Some(s(&v["negative_case"], "X-Lark-Signature")), ..webhook_vector_delivery() };
    assert!(matches!(delivery.parse(&secrets(Some(TOKEN), Some(KEY))), Err(EventError::BadSignature)));
}

#[test]
fn a_wrong_encrypt_key_fails_the_signature_before_decryption() {
    let result = webhook_vector_delivery().parse(&secrets(Some(TOKEN), Some("another key")));
    assert!(matches!(result, Err(EventError::BadSignature)));
}

#[test]
fn a_wrong_verification_token_is_refused() {
    let result = webhook_vector_delivery().parse(&secrets(Some("vTokenSomeoneElse000000000000000"), Some(KEY)));
    assert!(matches!(result, Err(EventError::WrongToken)));
}

#[test]
fn missing_signature_headers_are_refused_when_a_key_is_configured() {
    for strip in 0..3 {
        let mut delivery = webhook_vector_delivery();
        match strip {
            0 => delivery.timestamp = None,
            1 => delivery.nonce = None,
            _ => delivery.signature = None,
        }
        assert!(matches!(delivery.parse(&secrets(Some(TOKEN), Some(KEY))), Err(EventError::MissingSignature)));
    }
}

#[test]
fn a_plain_body_is_refused_when_a_key_is_configured() {
    let v = vector("webhook_im_message_receive_v1_encrypted");
    let body = s(v, "plaintext").as_bytes();
    let delivery = Delivery { body, ..webhook_vector_delivery() };
    assert!(matches!(delivery.parse(&secrets(Some(TOKEN), Some(KEY))), Err(EventError::PlaintextWithKey)));
    // Even a plain URL check: with a key configured Lark encrypts it (§6.1).
    let challenge = serde_json::to_vec(&VECTORS["fixtures"]["bodies"]["url_verification (plain)"]).unwrap();
    assert!(matches!(plain(&challenge).parse(&secrets(Some(TOKEN), Some(KEY))), Err(EventError::PlaintextWithKey)));
}

#[test]
fn an_encrypted_body_is_refused_without_a_key() {
    let result = webhook_vector_delivery().parse(&secrets(Some(TOKEN), None));
    assert!(matches!(result, Err(EventError::EncryptedWithoutKey)));
    // An empty key is no key.
    let result = webhook_vector_delivery().parse(&secrets(Some(TOKEN), Some("")));
    assert!(matches!(result, Err(EventError::EncryptedWithoutKey)));
}

#[test]
fn the_encrypted_url_check_is_answered_without_a_signature() {
    let v = vector("webhook_url_verification_encrypted");
    let body = s(&v["http"], "body").as_bytes();
    let inbound = plain(body).parse(&secrets(Some(TOKEN), Some(KEY))).unwrap();
    let Inbound::UrlVerification { challenge } = inbound else { panic!("{inbound:?}") };
    let answer: Value = serde_json::from_str(&challenge_response(&challenge)).unwrap();
    assert_eq!(answer, v["expected_response"]["json"]);

    assert!(matches!(plain(body).parse(&secrets(Some("vTokenSomeoneElse"), Some(KEY))), Err(EventError::WrongToken)));
    // A wrong key garbles the plaintext: refused, whichever way it breaks.
    assert!(matches!(
        plain(body).parse(&secrets(Some(TOKEN), Some("another key"))),
        Err(EventError::BadPadding | EventError::DecryptedNotJson(_))
    ));
    // Signed anyway? Then the signature must hold.
    let bad = Delivery { timestamp: Some("1"), nonce: Some("n"), signature: Some("00"), ..plain(body) };
    assert!(matches!(bad.parse(&secrets(Some(TOKEN), Some(KEY))), Err(EventError::BadSignature)));
}

#[test]
fn the_plain_url_check_is_answered_and_its_token_checked() {
    let body = serde_json::to_vec(&VECTORS["fixtures"]["bodies"]["url_verification (plain)"]).unwrap();
    let expected = Inbound::UrlVerification { challenge: "3f8e2a9c-7b1d-4c5e-9a0f-1e2d3c4b5a69".into() };
    assert_eq!(plain(&body).parse(&secrets(Some(TOKEN), None)).unwrap(), expected);
    assert_eq!(plain(&body).parse(&secrets(None, None)).unwrap(), expected);
    assert!(matches!(plain(&body).parse(&secrets(Some("other"), None)), Err(EventError::WrongToken)));
}

#[test]
fn every_fixture_body_parses_as_its_event() {
    let bodies = VECTORS["fixtures"]["bodies"].as_object().unwrap();
    let mut seen = 0;
    for (name, body) in bodies {
        if body.get("schema").is_none() {
            continue; // the legacy card and the URL check have their own tests
        }
        let raw = serde_json::to_vec(body).unwrap();
        let expect = |envelope: &Envelope| {
            assert_eq!(envelope.schema, Schema::V2, "{name}");
            assert_eq!(envelope.event_id, body["header"]["event_id"], "{name}");
            assert_eq!(envelope.event_type, body["header"]["event_type"], "{name}");
            assert!(name.starts_with(&envelope.event_type), "{name}");
            assert_eq!(envelope.tenant_key.as_deref(), Some("2ca1d211f64f6438"), "{name}");
            assert_eq!(envelope.app_id.as_deref(), Some("cli_a1b2c3d4e5f60718"), "{name}");
            assert_eq!(envelope.event, body["event"], "{name}");
        };
        // Plain, with the token check only.
        expect(&event(plain(&raw).parse(&secrets(Some(TOKEN), None))));
        assert!(matches!(plain(&raw).parse(&secrets(Some("other"), None)), Err(EventError::WrongToken)), "{name}");
        // Encrypted and signed, as Lark pushes it with an Encrypt Key set.
        let push = Push::new(KEY, &raw);
        expect(&event(push.delivery().parse(&secrets(Some(TOKEN), Some(KEY)))));
        seen += 1;
    }
    assert_eq!(seen, 7);
}

#[test]
fn the_card_action_callback_is_an_event_with_microsecond_time() {
    let body = serde_json::to_vec(&VECTORS["fixtures"]["bodies"]["card.action.trigger"]).unwrap();
    let envelope = event(Push::new(KEY, &body).delivery().parse(&secrets(Some(TOKEN), Some(KEY))));
    assert!(envelope.is_card_action());
    assert_eq!(envelope.event_id, "6d7e8f90a1b2c3d4e5f60718293a4b5c");
    assert_eq!(envelope.create_time_raw.as_deref(), Some("1735689700000000"));
    assert_eq!(envelope.create_time_ms, Some(1_735_689_700_000));
    assert_eq!(envelope.event["action"]["value"]["ticket_id"], "T-1001");
    // event.token is the card-update credential, not the verification token.
    assert_eq!(envelope.event["token"], "c-0123456789abcdef0123456789abcdef01234567");
}

#[test]
fn v1_events_parse_with_uuid_and_ts() {
    for (id, uuid, event_type, ms, tenant, app) in [
        (
            "decrypt_doc_page_sample_v1_event",
            "5226cd85b4d843dccee2e279d93f3ed3",
            "user_status_change",
            1_589_970_805_376,
            "2d520d3b434f175e",
            "cli_9e28cb7ba56a100e",
        ),
        (
            "decrypt_v1_message_event_third_party",
            "e5b933050c4045fce8f09a5f612c53a0",
            "message",
            1_597_670_902_943,
            "2d54f4e2f8cf575d",
            "cli_9fbc93aab56f500c",
        ),
    ] {
        let v = vector(id);
        let plaintext: Value = serde_json::from_str(s(v, "plaintext")).unwrap();
        let token = s(&plaintext, "token");
        // The ciphertext from the vector, wrapped and signed the way a push would be.
        let body = json!({ "encrypt": s(v, "encrypt") }).to_string();
        let sig = signature("1", "n", s(v, "encrypt_key"), body.as_bytes());
        let delivery =
            Delivery { body: body.as_bytes(), timestamp: Some("1"), nonce: Some("n"), signature: Some(&sig) };
        let envelope = event(delivery.parse(&secrets(Some(token), Some(s(v, "encrypt_key")))));
        assert_eq!(envelope.schema, Schema::V1, "{id}");
        assert_eq!(envelope.event_id, uuid, "{id}");
        assert_eq!(envelope.event_type, event_type, "{id}");
        assert_eq!(envelope.create_time_raw.as_deref(), Some(s(&plaintext, "ts")), "{id}");
        assert_eq!(envelope.create_time_ms, Some(ms), "{id}");
        assert_eq!(envelope.token.as_deref(), Some(token), "{id}");
        assert_eq!(envelope.tenant_key.as_deref(), Some(tenant), "{id}");
        assert_eq!(envelope.app_id.as_deref(), Some(app), "{id}");
        assert_eq!(envelope.event, plaintext["event"], "{id}");

        let plain_body = s(v, "plaintext").as_bytes();
        assert!(matches!(plain(plain_body).parse(&secrets(Some(TOKEN), None)), Err(EventError::WrongToken)), "{id}");
    }
}

#[test]
fn the_legacy_card_body_is_named_not_guessed() {
    let body = serde_json::to_vec(&VECTORS["fixtures"]["bodies"]["card.action.trigger_v1 (legacy body)"]).unwrap();
    assert!(matches!(plain(&body).parse(&secrets(Some(TOKEN), None)), Err(EventError::LegacyCardCallback)));
}

#[test]
fn malformed_bodies_name_what_is_wrong() {
    let parse = |body: &[u8]| plain(body).parse(&secrets(Some(TOKEN), None));
    assert!(matches!(parse(b"not json"), Err(EventError::NotJson(_))));
    assert!(matches!(parse(b"[1,2]"), Err(EventError::NotJson(_))));
    assert!(matches!(parse(b"{}"), Err(EventError::UnrecognizedBody)));
    assert!(
        matches!(parse(br#"{"schema":"3.0","header":{},"event":{}}"#), Err(EventError::UnsupportedSchema(v)) if v == "3.0")
    );
    assert!(matches!(parse(br#"{"schema":"2.0","event":{}}"#), Err(EventError::MissingField("header"))));
    assert!(matches!(
        parse(br#"{"schema":"2.0","header":{"event_type":"x","token":"t"},"event":{}}"#),
        Err(EventError::MissingField("header.event_id"))
    ));
    assert!(matches!(
        parse(br#"{"schema":"2.0","header":{"event_id":7,"event_type":"x"},"event":{}}"#),
        Err(EventError::MissingField("header.event_id"))
    ));
    assert!(matches!(
        parse(br#"{"schema":"2.0","header":{"event_id":"e","event_type":"x"},"event":{}}"#),
        Err(EventError::MissingField("header.token"))
    ));
    assert!(matches!(
        parse(br#"{"uuid":"u","type":"event_callback","token":"t"}"#),
        Err(EventError::MissingField("event"))
    ));
    assert!(matches!(parse(br#"{"type":"url_verification","token":"t"}"#), Err(EventError::MissingField("challenge"))));
    let delivery = Delivery { body: br#"{"encrypt":5}"#, timestamp: Some("1"), nonce: Some("n"), signature: Some("s") };
    assert!(matches!(delivery.parse(&secrets(None, Some(KEY))), Err(EventError::MissingField("encrypt"))));
}

#[test]
fn a_signed_push_with_a_broken_ciphertext_is_refused_after_the_signature() {
    // The signature covers the ciphertext, so decryption errors only reach signed garbage.
    for encrypted in ["!!!!", "AAAA"] {
        let body = json!({ "encrypt": encrypted }).to_string();
        let sig = signature("1", "n", KEY, body.as_bytes());
        let delivery =
            Delivery { body: body.as_bytes(), timestamp: Some("1"), nonce: Some("n"), signature: Some(&sig) };
        let result = delivery.parse(&secrets(None, Some(KEY)));
        assert!(matches!(result, Err(EventError::BadBase64(_) | EventError::BadCiphertext { .. })), "{result:?}");
    }
    let push = Push::new(KEY, b"not json");
    assert!(matches!(push.delivery().parse(&secrets(None, Some(KEY))), Err(EventError::DecryptedNotJson(_))));
}

#[test]
fn errors_explain_themselves() {
    let message = EventError::MissingSignature.to_string();
    assert!(message.contains("X-Lark-Signature"), "{message}");
    assert!(EventError::PlaintextWithKey.to_string().contains("Encrypt Key"));
    assert_eq!(EventError::MissingField("header.event_id").to_string(), "missing or mistyped field `header.event_id`");
}
