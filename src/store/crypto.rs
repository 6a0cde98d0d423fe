//! AES-256-GCM for tokens at rest. A value is `nonce (12 bytes) || ciphertext+tag`, sealed with a
//! random nonce and AAD that binds it to its row and field, so a ciphertext copied to another
//! account or swapped between access and refresh token does not open. `key_id` (16 hex digits of
//! SHA-256 of the key) is stored beside it, so a wrong key is named instead of failing blindly.

use aes_gcm::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use base64::Engine;
use sha2::{Digest, Sha256};

use crate::secret::Secret;

const NONCE_LEN: usize = 12;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CryptoError {
    #[error(
        "TOKEN_ENCRYPTION_KEY is not set (base64 of 32 random bytes, e.g. `openssl rand -base64 32`)"
    )]
    MissingKey,
    #[error("TOKEN_ENCRYPTION_KEY is not valid base64")]
    KeyNotBase64,
    #[error("TOKEN_ENCRYPTION_KEY must decode to exactly 32 bytes, it decodes to {0}")]
    KeyLength(usize),
    #[error(
        "tokens for account {account_id} user {user_id} were sealed with key {stored} but \
         TOKEN_ENCRYPTION_KEY is key {current}: set the key they were stored with, or store them \
         again with `cc-export tokens put`"
    )]
    KeyMismatch {
        account_id: String,
        user_id: String,
        stored: String,
        current: String,
    },
    /// Same key id, but the value does not open: tampered, truncated or bound to another row.
    #[error(
        "stored {field} token for account {account_id} user {user_id} does not decrypt (corrupt or moved)"
    )]
    Corrupt {
        account_id: String,
        user_id: String,
        field: &'static str,
    },
}

/// Which token a ciphertext holds (part of the AAD).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Access,
    Refresh,
}

impl Field {
    fn name(self) -> &'static str {
        match self {
            Field::Access => "access",
            Field::Refresh => "refresh",
        }
    }
}

#[derive(Clone)]
pub struct TokenKey {
    cipher: Aes256Gcm,
    key_id: String,
}

impl std::fmt::Debug for TokenKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TokenKey({})", self.key_id)
    }
}

impl TokenKey {
    /// From `TOKEN_ENCRYPTION_KEY`: standard base64 of exactly 32 bytes (surrounding blanks ok).
    pub fn from_base64(b64: &str) -> Result<Self, CryptoError> {
        let raw = base64::engine::general_purpose::STANDARD
            .decode(b64.trim())
            .map_err(|_| CryptoError::KeyNotBase64)?;
        Self::from_bytes(&raw)
    }

    /// From the settings: a clear error when the key is absent.
    pub fn from_settings(s: &crate::config::TokenKeySettings) -> Result<Self, CryptoError> {
        let key = s
            .token_encryption_key
            .as_ref()
            .ok_or(CryptoError::MissingKey)?;
        Self::from_base64(key.expose())
    }

    pub fn from_bytes(raw: &[u8]) -> Result<Self, CryptoError> {
        if raw.len() != 32 {
            return Err(CryptoError::KeyLength(raw.len()));
        }
        let digest = Sha256::digest(raw);
        let key_id = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
        Ok(Self {
            cipher: Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(raw)),
            key_id,
        })
    }

    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    pub fn seal(&self, account_id: &str, user_id: &str, field: Field, value: &Secret) -> Vec<u8> {
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        let aad = aad(account_id, user_id, field);
        let sealed = self
            .cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: value.expose().as_bytes(),
                    aad: &aad,
                },
            )
            // AES-GCM encryption fails only past 64 GiB per message.
            .expect("AES-GCM seal of a token");
        let mut out = Vec::with_capacity(NONCE_LEN + sealed.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        out
    }

    /// Opens a stored value; `stored_key_id` is the row's `key_id`.
    pub fn open(
        &self,
        account_id: &str,
        user_id: &str,
        field: Field,
        stored_key_id: &str,
        blob: &[u8],
    ) -> Result<Secret, CryptoError> {
        if stored_key_id != self.key_id {
            return Err(CryptoError::KeyMismatch {
                account_id: account_id.to_owned(),
                user_id: user_id.to_owned(),
                stored: stored_key_id.to_owned(),
                current: self.key_id.clone(),
            });
        }
        let corrupt = || CryptoError::Corrupt {
            account_id: account_id.to_owned(),
            user_id: user_id.to_owned(),
            field: field.name(),
        };
        if blob.len() < NONCE_LEN + 16 {
            return Err(corrupt());
        }
        let (nonce, sealed) = blob.split_at(NONCE_LEN);
        let aad = aad(account_id, user_id, field);
        let plain = self
            .cipher
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: sealed,
                    aad: &aad,
                },
            )
            .map_err(|_| corrupt())?;
        String::from_utf8(plain)
            .map(Secret::new)
            .map_err(|_| corrupt())
    }
}

/// Length-prefixed, so no two (account, user, field) triples share an AAD.
fn aad(account_id: &str, user_id: &str, field: Field) -> Vec<u8> {
    format!(
        "cc_tokens/v1/{}:{account_id}/{}:{user_id}/{}",
        account_id.len(),
        user_id.len(),
        field.name()
    )
    .into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(b: u8) -> TokenKey {
        TokenKey::from_bytes(&[b; 32]).unwrap()
    }

    #[test]
    fn round_trip_is_bound_to_row_and_field() {
        let k = key(7);
        let blob = k.seal("acct", "u1", Field::Access, &"at-secret".into());
        assert!(!blob.windows(9).any(|w| w == b"at-secret"));
        let id = k.key_id().to_owned();
        assert_eq!(
            k.open("acct", "u1", Field::Access, &id, &blob)
                .unwrap()
                .expose(),
            "at-secret"
        );
        assert!(matches!(
            k.open("acct", "u2", Field::Access, &id, &blob),
            Err(CryptoError::Corrupt { .. })
        ));
        assert!(matches!(
            k.open("acct", "u1", Field::Refresh, &id, &blob),
            Err(CryptoError::Corrupt { .. })
        ));
        // Fresh nonce per seal.
        assert_ne!(
            blob,
            k.seal("acct", "u1", Field::Access, &"at-secret".into())
        );
    }

    #[test]
    fn wrong_key_and_bad_keys_are_named() {
        let (a, b) = (key(1), key(2));
        assert_eq!(a.key_id().len(), 16);
        let blob = a.seal("acct", "u", Field::Refresh, &"rt".into());
        let err = b
            .open("acct", "u", Field::Refresh, a.key_id(), &blob)
            .unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains(a.key_id()) && msg.contains(b.key_id()),
            "{msg}"
        );
        assert_eq!(
            TokenKey::from_base64("not base64!").unwrap_err(),
            CryptoError::KeyNotBase64
        );
        assert_eq!(
            TokenKey::from_base64("AAAA").unwrap_err(),
            CryptoError::KeyLength(3)
        );
        assert!(
            TokenKey::from_base64(&base64::engine::general_purpose::STANDARD.encode([9u8; 32]))
                .is_ok()
        );
    }
}
