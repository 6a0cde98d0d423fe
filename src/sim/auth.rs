//! Token store: access tokens (map to an account, expire), rotating single-use refresh tokens.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

/// A token pair, as `POST /__sim/tokens` returns it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimTokens {
    pub access_token: String,
    pub refresh_token: String,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AuthError {
    #[error("missing Authorization: Bearer header")]
    Missing,
    #[error("the access token is not valid")]
    Unknown,
    #[error("the access token has expired")]
    Expired,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum GrantError {
    #[error("the refresh token is not valid")]
    Unknown,
    #[error("the refresh token was already used")]
    Spent,
    #[error("the refresh token has been revoked")]
    Revoked,
}

#[derive(Debug)]
struct Access {
    account: String,
    issued: Instant,
    expired: bool,
}

#[derive(Debug)]
enum Refresh {
    Live(String),
    Spent,
    Revoked,
}

#[derive(Debug, Default)]
struct Inner {
    access: HashMap<String, Access>,
    refresh: HashMap<String, Refresh>,
}

#[derive(Debug)]
pub struct TokenStore {
    ttl: Duration,
    inner: Mutex<Inner>,
}

fn token(prefix: &str) -> String {
    format!("{prefix}{}", uuid::Uuid::new_v4().simple())
}

impl TokenStore {
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            inner: Mutex::default(),
        }
    }

    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    pub fn issue(&self, account: &str) -> SimTokens {
        let pair = SimTokens {
            access_token: token("sim_at_"),
            refresh_token: token("sim_rt_"),
        };
        let mut inner = self.inner.lock().expect("token lock");
        let access = Access {
            account: account.to_owned(),
            issued: Instant::now(),
            expired: false,
        };
        inner.access.insert(pair.access_token.clone(), access);
        inner.refresh.insert(
            pair.refresh_token.clone(),
            Refresh::Live(account.to_owned()),
        );
        pair
    }

    /// The account of a valid access token, from the `Authorization` header value.
    pub fn check(&self, authorization: Option<&str>) -> Result<String, AuthError> {
        let value = authorization.ok_or(AuthError::Missing)?;
        let (scheme, token) = value.split_once(' ').ok_or(AuthError::Missing)?;
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Err(AuthError::Missing);
        }
        let inner = self.inner.lock().expect("token lock");
        let a = inner.access.get(token.trim()).ok_or(AuthError::Unknown)?;
        if a.expired || a.issued.elapsed() >= self.ttl {
            return Err(AuthError::Expired);
        }
        Ok(a.account.clone())
    }

    /// Spends a refresh token and returns a new pair; older access tokens stay valid.
    pub fn refresh(&self, refresh_token: &str) -> Result<SimTokens, GrantError> {
        let account = {
            let mut inner = self.inner.lock().expect("token lock");
            let slot = inner
                .refresh
                .get_mut(refresh_token)
                .ok_or(GrantError::Unknown)?;
            match std::mem::replace(slot, Refresh::Spent) {
                Refresh::Live(account) => account,
                Refresh::Spent => return Err(GrantError::Spent),
                Refresh::Revoked => {
                    *slot = Refresh::Revoked;
                    return Err(GrantError::Revoked);
                }
            }
        };
        Ok(self.issue(&account))
    }

    /// Every access and refresh token ever issued (for tests that grep logs for them).
    pub fn issued(&self) -> Vec<String> {
        let inner = self.inner.lock().expect("token lock");
        inner
            .access
            .keys()
            .chain(inner.refresh.keys())
            .cloned()
            .collect()
    }

    pub fn expire_access_tokens(&self) {
        let mut inner = self.inner.lock().expect("token lock");
        inner.access.values_mut().for_each(|a| a.expired = true);
    }

    pub fn revoke_refresh_tokens(&self, account: &str) {
        let mut inner = self.inner.lock().expect("token lock");
        for slot in inner.refresh.values_mut() {
            if matches!(slot, Refresh::Live(a) if a == account) {
                *slot = Refresh::Revoked;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotation_expiry_and_revocation() {
        let s = TokenStore::new(Duration::from_secs(60));
        let p = s.issue("acc");
        let bearer = |t: &str| format!("Bearer {t}");
        assert_eq!(s.check(Some(&bearer(&p.access_token))).unwrap(), "acc");
        assert_eq!(s.check(None), Err(AuthError::Missing));
        assert_eq!(s.check(Some("Bearer nope")), Err(AuthError::Unknown));
        let q = s.refresh(&p.refresh_token).unwrap();
        assert_eq!(s.refresh(&p.refresh_token), Err(GrantError::Spent));
        assert!(
            s.check(Some(&bearer(&p.access_token))).is_ok(),
            "old access token still valid"
        );
        s.revoke_refresh_tokens("acc");
        assert_eq!(s.refresh(&q.refresh_token), Err(GrantError::Revoked));
        s.expire_access_tokens();
        assert_eq!(
            s.check(Some(&bearer(&q.access_token))),
            Err(AuthError::Expired)
        );
        assert!(s.check(Some(&bearer(&s.issue("acc").access_token))).is_ok());
    }
}
