//! `DbTokenSource`: the worker's `cc::TokenSource` over `cc_tokens`. A refresh happens inside a
//! transaction that holds the row (`SELECT … FOR UPDATE`): a second worker waits, then finds the
//! new pair and uses it instead of spending the (single-use) refresh token again. The new pair is
//! committed before its access token is returned.

use std::time::Duration;

use async_trait::async_trait;
use sqlx::PgPool;
use time::OffsetDateTime;
use tokio::sync::Mutex;

use super::StoreError;
use super::crypto::{Field, TokenKey};
use super::tokens::{Sealed, load, no_tokens};
use crate::cc::{OAuthClient, TokenError, TokenPair, TokenSource};
use crate::secret::Secret;

pub const DEFAULT_MAX_AGE: Duration = Duration::from_secs(24 * 3600);

/// Persisting a refreshed pair is retried this often on fresh connections: the old refresh
/// token is spent, so this pair is the only way back in without a human.
const PERSIST_ATTEMPTS: u32 = 3;

/// Store failures as the HTTP client sees them. Missing or unreadable tokens need a human
/// (`tokens put`, or the right key): permanent. A database hiccup is transient.
fn token_error(e: StoreError) -> TokenError {
    match e {
        StoreError::NoTokens { .. } | StoreError::Crypto(_) => TokenError::ReauthRequired {
            description: e.to_string(),
        },
        other => TokenError::Persist(anyhow::Error::new(other)),
    }
}

pub struct DbTokenSource {
    pool: PgPool,
    key: TokenKey,
    account_id: String,
    user_id: String,
    oauth: OAuthClient,
    max_age: Duration,
    // The pair last read or written by this process; held across a refresh so the tasks of one
    // process queue here rather than on the row lock.
    cache: Mutex<Option<TokenPair>>,
}

impl DbTokenSource {
    pub fn new(
        pool: PgPool,
        key: TokenKey,
        account_id: impl Into<String>,
        user_id: impl Into<String>,
        oauth: OAuthClient,
    ) -> Self {
        Self {
            pool,
            key,
            account_id: account_id.into(),
            user_id: user_id.into(),
            oauth,
            max_age: DEFAULT_MAX_AGE,
            cache: Mutex::new(None),
        }
    }

    /// Refresh before use when the pair is older than this (default 24 h).
    pub fn with_max_age(mut self, max_age: Duration) -> Self {
        self.max_age = max_age;
        self
    }

    /// Reads and decrypts the stored pair: lets a worker fail a job with the store's typed error
    /// (`NoTokens`, `Crypto`) before it sends any request.
    pub async fn check(&self) -> Result<(), StoreError> {
        load(&self.pool, &self.key, &self.account_id, &self.user_id).await?;
        Ok(())
    }

    fn is_stale(&self, pair: &TokenPair) -> bool {
        OffsetDateTime::now_utc() - pair.generated_at >= self.max_age
    }

    /// Under the row lock: refreshes when `needed(stored pair)`, else returns the stored token
    /// (another worker got there first). The new pair is committed before it is returned.
    async fn refresh_locked(
        &self,
        cache: &mut Option<TokenPair>,
        reason: &str,
        needed: impl Fn(&TokenPair) -> bool,
    ) -> Result<Secret, StoreErrorOrToken> {
        let (account, user) = (self.account_id.as_str(), self.user_id.as_str());
        let mut tx = self.pool.begin().await.map_err(StoreError::from)?;
        let sealed = sqlx::query_as::<_, Sealed>(
            "SELECT access_token_enc, refresh_token_enc, key_id, generated_at FROM cc_tokens
             WHERE account_id = $1 AND user_id = $2
             FOR UPDATE",
        )
        .bind(account)
        .bind(user)
        .fetch_optional(&mut *tx)
        .await
        .map_err(StoreError::from)?
        .ok_or_else(|| no_tokens(account, user))?;
        let stored = sealed.open(&self.key, account, user)?;
        if !needed(&stored) {
            tx.commit().await.map_err(StoreError::from)?;
            tracing::debug!(
                account_id = account,
                "token already refreshed by another worker"
            );
            let token = stored.access_token.clone();
            *cache = Some(stored);
            return Ok(token);
        }
        tracing::info!(
            account_id = account,
            user_id = user,
            reason,
            "refreshing the access token"
        );
        // On error the transaction is dropped (rolled back) and the lock released.
        let new = self.oauth.refresh(&stored.refresh_token).await?;
        // The old refresh token is spent now: the new pair must reach the database before its
        // access token is used.
        let access_enc = self
            .key
            .seal(account, user, Field::Access, &new.access_token);
        let refresh_enc = self
            .key
            .seal(account, user, Field::Refresh, &new.refresh_token);
        let stored = async {
            let at: OffsetDateTime = sqlx::query_scalar(UPDATE_PAIR)
                .bind(account)
                .bind(user)
                .bind(&access_enc)
                .bind(&refresh_enc)
                .bind(self.key.key_id())
                .bind(&sealed.refresh_token_enc)
                .fetch_one(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok::<_, sqlx::Error>(at)
        }
        .await;
        let generated_at = match stored {
            Ok(at) => at,
            Err(e) => {
                tracing::warn!(account_id = account, error = %e, "storing the refreshed pair failed; retrying");
                self.persist_again(&access_enc, &refresh_enc, &sealed.refresh_token_enc)
                    .await?
            }
        };
        tracing::info!(
            account_id = account,
            user_id = user,
            "access token refreshed and stored"
        );
        let token = new.access_token.clone();
        *cache = Some(TokenPair {
            generated_at,
            ..new
        });
        Ok(token)
    }

    async fn refresh(
        &self,
        reason: &str,
        needed: impl Fn(&TokenPair) -> bool,
    ) -> Result<Secret, TokenError> {
        let mut cache = self.cache.lock().await;
        self.refresh_locked(&mut cache, reason, needed)
            .await
            .map_err(|e| match e {
                StoreErrorOrToken::Store(e) => token_error(e),
                StoreErrorOrToken::Token(e) => e,
            })
    }
}

/// Replaces the pair only while the row still holds the refresh token that was spent, so a pair
/// stored meanwhile (`tokens put`) is never overwritten.
const UPDATE_PAIR: &str = "UPDATE cc_tokens
     SET access_token_enc = $3, refresh_token_enc = $4, key_id = $5, generated_at = now(),
         updated_at = now()
     WHERE account_id = $1 AND user_id = $2 AND refresh_token_enc = $6
     RETURNING generated_at";

impl DbTokenSource {
    /// The first write of a refreshed pair failed (connection lost, commit failed): try again on
    /// fresh connections before giving up on it.
    async fn persist_again(
        &self,
        access_enc: &[u8],
        refresh_enc: &[u8],
        spent_enc: &[u8],
    ) -> Result<OffsetDateTime, TokenError> {
        let mut last = StoreError::Corrupt("no attempt to store the refreshed pair".into());
        for attempt in 1..=PERSIST_ATTEMPTS {
            tokio::time::sleep(Duration::from_millis(200) * attempt).await;
            let res = sqlx::query_scalar::<_, OffsetDateTime>(UPDATE_PAIR)
                .bind(&self.account_id)
                .bind(&self.user_id)
                .bind(access_enc)
                .bind(refresh_enc)
                .bind(self.key.key_id())
                .bind(spent_enc)
                .fetch_optional(&self.pool)
                .await;
            match res {
                Ok(Some(at)) => return Ok(at),
                Ok(None) => {
                    last = StoreError::Corrupt(
                        "the token row changed while a refreshed pair was being stored".into(),
                    );
                    break;
                }
                Err(e) => last = StoreError::Db(e),
            }
        }
        // Refresh tokens are single-use: losing this pair means a human must authorize again.
        tracing::error!(account_id = %self.account_id, error = %last, "refreshed token pair could not be stored");
        Err(TokenError::Persist(anyhow::Error::new(last)))
    }
}

enum StoreErrorOrToken {
    Store(StoreError),
    Token(TokenError),
}

impl From<StoreError> for StoreErrorOrToken {
    fn from(e: StoreError) -> Self {
        StoreErrorOrToken::Store(e)
    }
}

impl From<super::CryptoError> for StoreErrorOrToken {
    fn from(e: super::CryptoError) -> Self {
        StoreErrorOrToken::Store(e.into())
    }
}

impl From<TokenError> for StoreErrorOrToken {
    fn from(e: TokenError) -> Self {
        StoreErrorOrToken::Token(e)
    }
}

#[async_trait]
impl TokenSource for DbTokenSource {
    async fn access_token(&self) -> Result<Secret, TokenError> {
        {
            let mut cache = self.cache.lock().await;
            if let Some(pair) = cache.as_ref().filter(|p| !self.is_stale(p)) {
                return Ok(pair.access_token.clone());
            }
            let stored = load(&self.pool, &self.key, &self.account_id, &self.user_id)
                .await
                .map_err(token_error)?;
            if !self.is_stale(&stored) {
                let token = stored.access_token.clone();
                *cache = Some(stored);
                return Ok(token);
            }
        }
        self.refresh("max age reached", |p| self.is_stale(p)).await
    }

    async fn refresh_after_unauthorized(&self, rejected: &Secret) -> Result<Secret, TokenError> {
        self.refresh("401 unauthorized", |p| p.access_token == *rejected)
            .await
    }
}
