//! Access tokens: `TokenPair`, the `TokenSource` trait the HTTP client asks, and
//! `MemoryTokenSource`, which refreshes through `OAuthClient` and persists every new pair
//! before its access token is used.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use tokio::sync::Mutex;

pub use super::oauth::{OAuthClient, OAuthConfig};
use crate::secret::Secret;

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct TokenPair {
    pub access_token: Secret,
    pub refresh_token: Secret,
    #[serde(with = "time::serde::rfc3339")]
    pub generated_at: OffsetDateTime,
}

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// `invalid_grant`: the refresh token is revoked or spent; a human must authorize again.
    #[error("re-authentication required: refresh token rejected (invalid_grant): {description}")]
    ReauthRequired { description: String },
    #[error("token endpoint rejected the refresh (HTTP {status}): {error}: {description}")]
    Rejected {
        status: u16,
        error: String,
        description: String,
    },
    #[error("token endpoint transport error: {0}")]
    Transport(String),
    #[error("token endpoint answer malformed: {0}")]
    Malformed(String),
    /// The persist callback failed: the new pair is held back (never used) until it is stored.
    #[error("could not persist the refreshed token pair: {0:#}")]
    Persist(anyhow::Error),
    #[error("access token needs a refresh but no OAuth client is configured")]
    NoRefresh,
}

impl TokenError {
    pub fn is_permanent(&self) -> bool {
        match self {
            TokenError::ReauthRequired { .. } | TokenError::NoRefresh => true,
            // 4xx other than invalid_grant: e.g. invalid_client, a configuration problem.
            TokenError::Rejected { status, .. } => (400..500).contains(status) && *status != 429,
            _ => false,
        }
    }
}

/// Stores a freshly refreshed pair (database row, state file). Runs on a blocking thread.
pub type PersistFn = Arc<dyn Fn(&TokenPair) -> anyhow::Result<()> + Send + Sync>;

#[async_trait]
pub trait TokenSource: Send + Sync {
    /// The access token to send; refreshes first when the pair is older than the max age.
    async fn access_token(&self) -> Result<Secret, TokenError>;
    /// After a 401 with `rejected`: refresh, unless another task already did (the current
    /// token differs from `rejected`), in which case the current token is returned.
    async fn refresh_after_unauthorized(&self, rejected: &Secret) -> Result<Secret, TokenError>;
}

pub struct MemoryTokenSource {
    oauth: Option<OAuthClient>,
    persist: PersistFn,
    max_age: Duration,
    // Held across a refresh, so concurrent callers cause exactly one refresh.
    state: Mutex<State>,
}

struct State {
    pair: TokenPair,
    /// Refreshed but not yet persisted: the old refresh token is spent, so this pair is the only
    /// way back in; persisting it is retried before anything else happens.
    pending: Option<TokenPair>,
}

impl MemoryTokenSource {
    /// `oauth: None` means the pair cannot be refreshed: the access token is used as it is and a
    /// 401 ends in [`TokenError::NoRefresh`].
    pub fn new(
        pair: TokenPair,
        oauth: Option<OAuthClient>,
        persist: PersistFn,
        max_age: Duration,
    ) -> Self {
        Self {
            oauth,
            persist,
            max_age,
            state: Mutex::new(State {
                pair,
                pending: None,
            }),
        }
    }

    /// The pair currently in use.
    pub async fn current(&self) -> TokenPair {
        self.state.lock().await.pair.clone()
    }

    fn is_stale(&self, pair: &TokenPair) -> bool {
        let age = OffsetDateTime::now_utc() - pair.generated_at;
        age >= self.max_age
    }

    async fn persist(&self, pair: &TokenPair) -> Result<(), TokenError> {
        let persist = self.persist.clone();
        let pair = pair.clone();
        // The callback may do blocking I/O (fsync, a database round trip).
        match tokio::task::spawn_blocking(move || persist(&pair)).await {
            Ok(res) => res.map_err(TokenError::Persist),
            Err(join) => Err(TokenError::Persist(anyhow::anyhow!(
                "persist callback panicked: {join}"
            ))),
        }
    }

    async fn settle_pending(&self, st: &mut State) -> Result<(), TokenError> {
        if let Some(pending) = st.pending.take() {
            if let Err(e) = self.persist(&pending).await {
                st.pending = Some(pending);
                return Err(e);
            }
            tracing::info!("stored the previously refreshed token pair");
            st.pair = pending;
        }
        Ok(())
    }

    async fn refresh_locked(&self, st: &mut State, why: &str) -> Result<Secret, TokenError> {
        let oauth = self.oauth.as_ref().ok_or(TokenError::NoRefresh)?;
        tracing::info!(reason = why, "refreshing the access token");
        let new = match oauth.refresh(&st.pair.refresh_token).await {
            Ok(new) => new,
            Err(e) => {
                tracing::warn!(error = %e, "token refresh failed");
                return Err(e);
            }
        };
        if let Err(e) = self.persist(&new).await {
            tracing::error!(error = %e, "refreshed token pair could not be stored; holding it back");
            st.pending = Some(new);
            return Err(e);
        }
        st.pair = new;
        tracing::info!("access token refreshed and stored");
        Ok(st.pair.access_token.clone())
    }
}

#[async_trait]
impl TokenSource for MemoryTokenSource {
    async fn access_token(&self) -> Result<Secret, TokenError> {
        let mut st = self.state.lock().await;
        self.settle_pending(&mut st).await?;
        if self.oauth.is_some() && self.is_stale(&st.pair) {
            return self.refresh_locked(&mut st, "max age reached").await;
        }
        Ok(st.pair.access_token.clone())
    }

    async fn refresh_after_unauthorized(&self, rejected: &Secret) -> Result<Secret, TokenError> {
        let mut st = self.state.lock().await;
        self.settle_pending(&mut st).await?;
        if st.pair.access_token != *rejected {
            tracing::debug!("access token already refreshed by another task");
            return Ok(st.pair.access_token.clone());
        }
        self.refresh_locked(&mut st, "401 unauthorized").await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(age: Duration) -> TokenPair {
        TokenPair {
            access_token: "at-1".into(),
            refresh_token: "rt-1".into(),
            generated_at: OffsetDateTime::now_utc() - age,
        }
    }

    fn no_persist() -> PersistFn {
        Arc::new(|_| Ok(()))
    }

    #[test]
    fn pair_round_trips_and_debug_is_redacted() {
        let p = pair(Duration::ZERO);
        let json = serde_json::to_string(&p).unwrap();
        assert!(json.contains("\"access_token\":\"at-1\""));
        let back: TokenPair = serde_json::from_str(&json).unwrap();
        assert_eq!(back.access_token, p.access_token);
        let dbg = format!("{p:?}");
        assert!(!dbg.contains("at-1") && !dbg.contains("rt-1"), "{dbg}");
    }

    #[tokio::test]
    async fn without_oauth_a_stale_token_is_used_and_401_cannot_refresh() {
        let src = MemoryTokenSource::new(
            pair(Duration::from_secs(90_000)),
            None,
            no_persist(),
            Duration::from_secs(86_400),
        );
        assert_eq!(src.access_token().await.unwrap().expose(), "at-1");
        let err = src
            .refresh_after_unauthorized(&"at-1".into())
            .await
            .unwrap_err();
        assert!(matches!(err, TokenError::NoRefresh));
        // Someone else's token was rejected: ours is handed back without a refresh.
        let ok = src.refresh_after_unauthorized(&"old".into()).await.unwrap();
        assert_eq!(ok.expose(), "at-1");
    }

    #[test]
    fn permanence() {
        assert!(
            TokenError::ReauthRequired {
                description: String::new()
            }
            .is_permanent()
        );
        assert!(!TokenError::Transport("x".into()).is_permanent());
        let rejected = |status| TokenError::Rejected {
            status,
            error: "e".into(),
            description: "d".into(),
        };
        assert!(rejected(401).is_permanent());
        assert!(!rejected(503).is_permanent());
        assert!(!TokenError::Persist(anyhow::anyhow!("disk full")).is_permanent());
    }
}
