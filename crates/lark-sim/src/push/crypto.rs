//! What Lark does to a webhook body before it leaves (spec §6.2, §6.3): AES-256-CBC encryption with
//! a random IV, and the SHA-256 signature header. Written here rather than borrowed from
//! `lark-notify`, so that a mistake in the client's reading of the spec is not mirrored.

use aes::cipher::block_padding::Pkcs7;
use aes::cipher::{BlockEncryptMut as _, KeyIvInit as _};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest as _, Sha256};

type Aes256CbcEnc = cbc::Encryptor<aes::Aes256>;

/// `base64(IV || AES-256-CBC(key = SHA-256(encrypt_key), IV, PKCS#7(plaintext)))` with a fresh IV.
pub(crate) fn encrypt(encrypt_key: &str, plaintext: &[u8]) -> String {
    encrypt_with_iv(encrypt_key, rand::random::<[u8; 16]>(), plaintext)
}

fn encrypt_with_iv(encrypt_key: &str, iv: [u8; 16], plaintext: &[u8]) -> String {
    let key: [u8; 32] = Sha256::digest(encrypt_key.as_bytes()).into();
    let ciphertext = Aes256CbcEnc::new(&key.into(), &iv.into()).encrypt_padded_vec_mut::<Pkcs7>(plaintext);
    let mut wire = Vec::with_capacity(iv.len() + ciphertext.len());
    wire.extend_from_slice(&iv);
    wire.extend_from_slice(&ciphertext);
    STANDARD.encode(wire)
}

/// `X-Lark-Signature`: lowercase hex of SHA-256 over `timestamp + nonce + encrypt_key` and then the
/// exact body bytes.
pub(crate) fn signature(timestamp: &str, nonce: &str, encrypt_key: &str, body: &[u8]) -> String {
    let mut hasher = Sha256::new();
    hasher.update(timestamp.as_bytes());
    hasher.update(nonce.as_bytes());
    hasher.update(encrypt_key.as_bytes());
    hasher.update(body);
    hasher.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;

    fn vector(id: &str) -> Value {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../lark-notify/tests/vectors/lark-vectors.json");
        let all: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        all["vectors"].as_array().unwrap().iter().find(|v| v["id"] == id).unwrap().clone()
    }

    fn unhex(hex: &str) -> Vec<u8> {
        (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap()).collect()
    }

    #[test]
    fn signature_matches_the_simple_vector() {
        let v = vector("signature_simple");
        let s = |k: &str| v[k].as_str().unwrap().to_owned();
        assert_eq!(
            signature(&s("timestamp"), &s("nonce"), &s("encrypt_key"), s("body").as_bytes()),
            s("expected_signature")
        );
    }

    #[test]
    fn encrypted_push_matches_the_webhook_vector_byte_for_byte() {
        let v = vector("webhook_im_message_receive_v1_encrypted");
        let s = |k: &str| v[k].as_str().unwrap().to_owned();
        let iv: [u8; 16] = unhex(&s("iv_hex")).try_into().unwrap();
        let encrypted = encrypt_with_iv(&s("encrypt_key"), iv, s("plaintext").as_bytes());
        assert_eq!(encrypted, s("encrypt"));
        let body = serde_json::json!({"encrypt": encrypted}).to_string();
        assert_eq!(body, v["http"]["body"].as_str().unwrap());
        let headers = &v["http"]["headers"];
        let sig = signature(
            headers["X-Lark-Request-Timestamp"].as_str().unwrap(),
            headers["X-Lark-Request-Nonce"].as_str().unwrap(),
            &s("encrypt_key"),
            body.as_bytes(),
        );
        assert_eq!(sig, s("expected_signature"));
    }

    #[test]
    fn a_fresh_iv_every_time() {
        assert_ne!(encrypt("k", b"same"), encrypt("k", b"same"));
    }
}
