//! Sealing secrets at rest: AES-256-GCM under `DESK_SECRET_KEY`, a fresh random nonce per
//! value. The stored form is `v1:` + base64(nonce || ciphertext || tag); the prefix lets a
//! later key rotation tell old values from new.

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use rand::RngCore as _;
use secrecy::{ExposeSecret, SecretString};

const PREFIX: &str = "v1:";

/// Why a secret could not be sealed or opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    /// No `DESK_SECRET_KEY` is configured, so secrets cannot be stored.
    #[error("DESK_SECRET_KEY is not set; it is required to store integration secrets")]
    NoKey,
    /// The key is not 32 bytes of base64.
    #[error("DESK_SECRET_KEY must be 32 bytes, base64-encoded")]
    BadKey,
    /// The stored value does not open with this key (wrong key, or a damaged value).
    #[error("a stored secret cannot be opened with this DESK_SECRET_KEY")]
    CannotOpen,
}

/// The sealing key. `Debug` never shows it.
#[derive(Clone)]
pub struct SecretBox {
    cipher: Aes256Gcm,
}

impl std::fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretBox([redacted])")
    }
}

impl SecretBox {
    /// From `DESK_SECRET_KEY` (32 bytes, base64).
    pub fn from_base64(key: &SecretString) -> Result<Self, SealError> {
        let bytes = STANDARD.decode(key.expose_secret().trim()).map_err(|_| SealError::BadKey)?;
        let cipher = Aes256Gcm::new_from_slice(&bytes).map_err(|_| SealError::BadKey)?;
        Ok(Self { cipher })
    }

    /// Seals a secret for storage.
    pub fn seal(&self, plain: &str) -> Result<String, SealError> {
        let mut nonce = [0u8; 12];
        rand::rng().fill_bytes(&mut nonce);
        let sealed = self.cipher.encrypt(&Nonce::from(nonce), plain.as_bytes()).map_err(|_| SealError::BadKey)?;
        let mut out = Vec::with_capacity(12 + sealed.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        Ok(format!("{PREFIX}{}", STANDARD.encode(out)))
    }

    /// Opens a stored secret.
    pub fn open(&self, stored: &str) -> Result<SecretString, SealError> {
        let raw = stored.strip_prefix(PREFIX).ok_or(SealError::CannotOpen)?;
        let bytes = STANDARD.decode(raw).map_err(|_| SealError::CannotOpen)?;
        if bytes.len() < 12 + 16 {
            return Err(SealError::CannotOpen);
        }
        let (nonce, sealed) = bytes.split_at(12);
        let nonce: [u8; 12] = nonce.try_into().map_err(|_| SealError::CannotOpen)?;
        let plain = self.cipher.decrypt(&Nonce::from(nonce), sealed).map_err(|_| SealError::CannotOpen)?;
        String::from_utf8(plain).map(SecretString::from).map_err(|_| SealError::CannotOpen)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> SecretBox {
        SecretBox::from_base64(&SecretString::from(STANDARD.encode([byte; 32]))).unwrap()
    }

    #[test]
    fn sealed_values_open_with_the_same_key_only_and_never_repeat() {
        let a = key(1);
        let one = a.seal("app-secret").unwrap();
        let two = a.seal("app-secret").unwrap();
        assert_ne!(one, two, "a fresh nonce per value");
        assert!(!one.contains("app-secret"));
        assert_eq!(a.open(&one).unwrap().expose_secret(), "app-secret");
        assert_eq!(key(2).open(&one).unwrap_err(), SealError::CannotOpen);
        let mut tampered = one.clone();
        tampered.pop();
        tampered.push(if one.ends_with('A') { 'B' } else { 'A' });
        assert_eq!(a.open(&tampered).unwrap_err(), SealError::CannotOpen);
    }

    #[test]
    fn keys_must_be_32_bytes() {
        let short = SecretString::from(STANDARD.encode([0u8; 16]));
        assert_eq!(SecretBox::from_base64(&short).unwrap_err(), SealError::BadKey);
    }
}
