//! Webhook signatures: Standard Webhooks (both ways) and GitHub's `X-Hub-Signature-256`
//! (inbound). HMAC-SHA256 from the `hmac` and `sha2` crates; comparisons go through
//! `Mac::verify_slice`, which is constant-time.
//!
//! Standard Webhooks (<https://www.standardwebhooks.com>): the secret is `whsec_` +
//! base64 of the key bytes; the signed content is `{webhook-id}.{webhook-timestamp}.{body}`;
//! `webhook-signature` is a space-separated list of `v1,<base64 signature>` (several while a
//! secret rotates). GitHub: the key is the secret's UTF-8 bytes, the signed content the
//! body, the header `sha256=<hex signature>`.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use rand::RngCore as _;
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;

use desk_core::FieldError;
use desk_core::hooks::HookStyle;

type HmacSha256 = Hmac<Sha256>;

/// The prefix of Standard Webhooks secrets.
pub const WHSEC_PREFIX: &str = "whsec_";

/// Standard Webhooks headers.
pub const WEBHOOK_ID: &str = "webhook-id";
/// Standard Webhooks headers.
pub const WEBHOOK_TIMESTAMP: &str = "webhook-timestamp";
/// Standard Webhooks headers.
pub const WEBHOOK_SIGNATURE: &str = "webhook-signature";
/// GitHub's signature header.
pub const HUB_SIGNATURE: &str = "x-hub-signature-256";
/// GitHub's delivery id header.
pub const GITHUB_DELIVERY: &str = "x-github-delivery";

/// The key bytes of a secret, by style.
fn key_bytes(style: HookStyle, secret: &str) -> Option<Vec<u8>> {
    match style {
        HookStyle::StandardWebhooks => STANDARD.decode(secret.strip_prefix(WHSEC_PREFIX).unwrap_or(secret)).ok(),
        HookStyle::Github => Some(secret.as_bytes().to_vec()),
    }
}

/// HMAC takes keys of any length, so this is always `Some`; the `Option` only spares a panic path.
fn mac(key: &[u8]) -> Option<HmacSha256> {
    HmacSha256::new_from_slice(key).ok()
}

/// A fresh secret for `style`: `whsec_` + 32 random bytes in base64, or 64 hex digits.
pub fn generate(style: HookStyle) -> String {
    let mut key = [0u8; 32];
    rand::rng().fill_bytes(&mut key);
    match style {
        HookStyle::StandardWebhooks => format!("{WHSEC_PREFIX}{}", STANDARD.encode(key)),
        HookStyle::Github => hex::encode(key),
    }
}

/// Checks a secret an admin supplies for `style`.
pub fn check_secret(style: HookStyle, secret: &str, field: &str) -> Result<(), FieldError> {
    match style {
        HookStyle::StandardWebhooks => {
            let key = secret.strip_prefix(WHSEC_PREFIX).and_then(|b64| STANDARD.decode(b64).ok());
            match key {
                Some(k) if (24..=64).contains(&k.len()) => Ok(()),
                _ => {
                    Err(FieldError::new(field, "must be whsec_ followed by 24–64 bytes in base64 (Standard Webhooks)"))
                }
            }
        }
        HookStyle::Github => {
            let len = secret.chars().count();
            if (16..=256).contains(&len) && !secret.chars().any(char::is_control) {
                Ok(())
            } else {
                Err(FieldError::new(field, "must be 16–256 characters without control characters"))
            }
        }
    }
}

/// Enough of a secret to tell it apart, never enough to matter.
pub fn hint(secret: &str) -> String {
    let shown = if secret.starts_with(WHSEC_PREFIX) { WHSEC_PREFIX.len() + 4 } else { 4 };
    format!("{}…", secret.chars().take(shown).collect::<String>())
}

/// The Standard Webhooks signature of one message under one secret (`v1,<base64>`).
pub fn standard_signature(secret: &str, id: &str, timestamp: i64, body: &[u8]) -> Option<String> {
    let key = key_bytes(HookStyle::StandardWebhooks, secret)?;
    let mut m = mac(&key)?;
    m.update(format!("{id}.{timestamp}.").as_bytes());
    m.update(body);
    Some(format!("v1,{}", STANDARD.encode(m.finalize().into_bytes())))
}

/// The `webhook-signature` header for a message signed with every key (the current one
/// first): one `v1,…` per key, space-separated.
pub fn sign(keys: &[&SecretString], id: &str, timestamp: i64, body: &[u8]) -> String {
    keys.iter().filter_map(|k| standard_signature(k.expose_secret(), id, timestamp, body)).collect::<Vec<_>>().join(" ")
}

/// Whether any `v1` signature in a `webhook-signature` header matches the message under
/// any of `secrets`.
pub fn verify_standard(secrets: &[SecretString], id: &str, timestamp: &str, body: &[u8], header: &str) -> bool {
    let given: Vec<Vec<u8>> = header
        .split_whitespace()
        .filter_map(|s| s.strip_prefix("v1,"))
        .filter_map(|b64| STANDARD.decode(b64).ok())
        .collect();
    secrets.iter().filter_map(|s| key_bytes(HookStyle::StandardWebhooks, s.expose_secret())).any(|key| {
        let Some(mut m) = mac(&key) else { return false };
        m.update(id.as_bytes());
        m.update(b".");
        m.update(timestamp.as_bytes());
        m.update(b".");
        m.update(body);
        given.iter().any(|sig| m.clone().verify_slice(sig).is_ok())
    })
}

/// Whether an `X-Hub-Signature-256: sha256=<hex>` header matches the body under any of
/// `secrets`.
pub fn verify_github(secrets: &[SecretString], body: &[u8], header: &str) -> bool {
    let Some(given) = header.trim().strip_prefix("sha256=").and_then(|h| hex::decode(h).ok()) else {
        return false;
    };
    secrets.iter().any(|s| {
        let Some(mut m) = mac(s.expose_secret().as_bytes()) else { return false };
        m.update(body);
        m.verify_slice(&given).is_ok()
    })
}

/// The GitHub-style header for a body (for tests and tools).
pub fn github_signature(secret: &str, body: &[u8]) -> String {
    let Some(mut m) = mac(secret.as_bytes()) else { return String::new() };
    m.update(body);
    format!("sha256={}", hex::encode(m.finalize().into_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    // The example of the Standard Webhooks reference libraries.
    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const TS: i64 = 1_614_265_330;
    const BODY: &[u8] = br#"{"test": 2432232314}"#;
    const SIGNATURE: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    #[test]
    fn the_reference_vector_signs_and_verifies() {
        assert_eq!(standard_signature(SECRET, ID, TS, BODY).as_deref(), Some(SIGNATURE));
        let secrets = [SecretString::from(SECRET)];
        assert!(verify_standard(&secrets, ID, &TS.to_string(), BODY, SIGNATURE));
        // Several signatures (a rotation): one matching is enough.
        assert!(verify_standard(&secrets, ID, &TS.to_string(), BODY, &format!("v1,Zm9v {SIGNATURE}")));
        assert!(!verify_standard(&secrets, ID, &TS.to_string(), br#"{"test": 2432232315}"#, SIGNATURE));
        assert!(!verify_standard(&secrets, ID, &(TS + 1).to_string(), BODY, SIGNATURE));
        assert!(!verify_standard(&secrets, "msg_other", &TS.to_string(), BODY, SIGNATURE));
    }

    #[test]
    fn a_second_secret_verifies_during_a_rotation() {
        let old = SecretString::from(generate(HookStyle::StandardWebhooks));
        let new = SecretString::from(generate(HookStyle::StandardWebhooks));
        let header = sign(&[&new], ID, TS, BODY);
        assert!(verify_standard(&[old.clone(), new.clone()], ID, &TS.to_string(), BODY, &header));
        assert!(!verify_standard(&[old], ID, &TS.to_string(), BODY, &header));
        let both = sign(&[&new, &SecretString::from(SECRET)], ID, TS, BODY);
        assert_eq!(both.split(' ').count(), 2);
        assert!(both.ends_with(SIGNATURE));
    }

    #[test]
    fn github_style_verifies_hex_over_the_body() {
        // GitHub's documented example: secret "It's a Secret to Everybody", body "Hello, World!".
        let header = github_signature("It's a Secret to Everybody", b"Hello, World!");
        assert_eq!(header, "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17");
        let secrets = [SecretString::from("It's a Secret to Everybody")];
        assert!(verify_github(&secrets, b"Hello, World!", &header));
        assert!(!verify_github(&secrets, b"Hello, World?", &header));
        assert!(!verify_github(&secrets, b"Hello, World!", "sha1=abc"));
    }

    #[test]
    fn generated_secrets_pass_their_own_checks_and_hints_hide_them() {
        for style in HookStyle::ALL {
            let s = generate(style);
            assert_eq!(check_secret(style, &s, "secret"), Ok(()));
            assert!(hint(&s).chars().count() <= 11 && !hint(&s).contains(&s[12..]));
        }
        assert!(check_secret(HookStyle::StandardWebhooks, "whsec_c2hvcnQ=", "secret").is_err());
        assert!(check_secret(HookStyle::Github, "short", "secret").is_err());
    }
}
