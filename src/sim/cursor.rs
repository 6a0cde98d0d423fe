//! Opaque, signed cursors: base64url(payload JSON ‖ HMAC-SHA256(payload)). The key derives from
//! the seed alone, so another simulator process with the same seed accepts them (exports resume
//! across processes).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::clock;
use super::query::ContactsQuery;

type HmacSha256 = Hmac<Sha256>;
const SIG_LEN: usize = 32;

/// Which collection a cursor pages through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Kind {
    #[serde(rename = "c")]
    Contacts,
    #[serde(rename = "f")]
    CustomFields,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Payload {
    #[serde(rename = "a")]
    pub account: String,
    #[serde(rename = "k")]
    pub kind: Kind,
    #[serde(rename = "q")]
    pub query: ContactsQuery,
    /// Next index to serve.
    #[serde(rename = "n")]
    pub next: u64,
    /// Issue time (Unix ms); only written when cursors expire, so pages stay byte-identical.
    #[serde(rename = "t", default, skip_serializing_if = "Option::is_none")]
    pub issued_at: Option<i64>,
    #[serde(rename = "e", default)]
    pub epoch: u64,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CursorError {
    #[error("the cursor is not valid")]
    Malformed,
    #[error("the cursor signature does not match")]
    BadSignature,
    #[error("the cursor belongs to another account")]
    ForeignAccount,
    #[error("the cursor belongs to another endpoint")]
    WrongEndpoint,
    #[error("the cursor has expired")]
    Expired,
    #[error("the cursor is no longer valid")]
    Invalidated,
}

#[derive(Debug)]
pub struct CursorCodec {
    key: [u8; 32],
    ttl: Option<Duration>,
    epoch: AtomicU64,
}

impl CursorCodec {
    pub fn new(seed: u64, ttl: Option<Duration>) -> Self {
        let mut h = Sha256::new();
        h.update(b"cc-export simulator cursor key v1");
        h.update(seed.to_le_bytes());
        Self {
            key: h.finalize().into(),
            ttl,
            epoch: AtomicU64::new(0),
        }
    }

    fn mac(&self) -> HmacSha256 {
        HmacSha256::new_from_slice(&self.key).expect("HMAC takes any key length")
    }

    pub fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::SeqCst)
    }

    /// Every cursor issued so far becomes invalid.
    pub fn invalidate(&self) {
        self.epoch.fetch_add(1, Ordering::SeqCst);
    }

    pub fn encode(&self, account: &str, kind: Kind, query: &ContactsQuery, next: u64) -> String {
        let payload = Payload {
            account: account.to_owned(),
            kind,
            query: query.clone(),
            next,
            issued_at: self.ttl.map(|_| clock::now_millis()),
            epoch: self.epoch(),
        };
        let mut bytes = serde_json::to_vec(&payload).expect("plain struct");
        let mut mac = self.mac();
        mac.update(&bytes);
        bytes.extend_from_slice(&mac.finalize().into_bytes());
        URL_SAFE_NO_PAD.encode(bytes)
    }

    pub fn decode(&self, cursor: &str, account: &str, kind: Kind) -> Result<Payload, CursorError> {
        let bytes = URL_SAFE_NO_PAD
            .decode(cursor.trim_end_matches('='))
            .map_err(|_| CursorError::Malformed)?;
        if bytes.len() <= SIG_LEN {
            return Err(CursorError::Malformed);
        }
        let (body, sig) = bytes.split_at(bytes.len() - SIG_LEN);
        let mut mac = self.mac();
        mac.update(body);
        mac.verify_slice(sig)
            .map_err(|_| CursorError::BadSignature)?;
        let p: Payload = serde_json::from_slice(body).map_err(|_| CursorError::Malformed)?;
        if p.account != account {
            return Err(CursorError::ForeignAccount);
        }
        if p.kind != kind {
            return Err(CursorError::WrongEndpoint);
        }
        if p.epoch < self.epoch() {
            return Err(CursorError::Invalidated);
        }
        if let Some(ttl) = self.ttl {
            // A cursor without an issue time (from a process without TTL) counts as expired.
            let age = clock::now_millis() - p.issued_at.unwrap_or(i64::MIN / 2);
            if age > ttl.as_millis() as i64 {
                return Err(CursorError::Expired);
            }
        }
        Ok(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_rejections() {
        let c = CursorCodec::new(42, None);
        let q = ContactsQuery {
            limit: 10,
            ..Default::default()
        };
        let s = c.encode("acc", Kind::Contacts, &q, 17);
        assert_eq!(c.decode(&s, "acc", Kind::Contacts).unwrap().next, 17);
        assert_eq!(
            CursorCodec::new(42, None)
                .decode(&s, "acc", Kind::Contacts)
                .unwrap()
                .query,
            q
        );
        assert_eq!(
            CursorCodec::new(43, None).decode(&s, "acc", Kind::Contacts),
            Err(CursorError::BadSignature)
        );
        assert_eq!(
            c.decode(&s, "other", Kind::Contacts),
            Err(CursorError::ForeignAccount)
        );
        assert_eq!(
            c.decode(&s, "acc", Kind::CustomFields),
            Err(CursorError::WrongEndpoint)
        );
        assert_eq!(
            c.decode("!!", "acc", Kind::Contacts),
            Err(CursorError::Malformed)
        );
        let mut tampered = s.clone().into_bytes();
        tampered[5] = if tampered[5] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(tampered).unwrap();
        assert!(c.decode(&tampered, "acc", Kind::Contacts).is_err());
        c.invalidate();
        assert_eq!(
            c.decode(&s, "acc", Kind::Contacts),
            Err(CursorError::Invalidated)
        );
    }

    #[test]
    fn expiry() {
        let c = CursorCodec::new(1, Some(Duration::from_millis(0)));
        let s = c.encode("a", Kind::Contacts, &ContactsQuery::default(), 0);
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(c.decode(&s, "a", Kind::Contacts), Err(CursorError::Expired));
    }
}
