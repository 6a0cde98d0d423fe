//! `cc_tokens`: OAuth pairs per (account, user), AES-256-GCM encrypted ([`super::crypto`]).
//! The worker's `cc::TokenSource` over this table is [`super::token_source::DbTokenSource`].

use sqlx::PgPool;
use time::OffsetDateTime;

use super::StoreError;
use super::crypto::{Field, TokenKey};
use crate::cc::TokenPair;

/// A row as stored: ciphertexts and the key id that sealed them.
#[derive(sqlx::FromRow)]
pub(crate) struct Sealed {
    pub access_token_enc: Vec<u8>,
    pub refresh_token_enc: Vec<u8>,
    pub key_id: String,
    pub generated_at: OffsetDateTime,
}

impl Sealed {
    pub(crate) fn open(
        &self,
        key: &TokenKey,
        account: &str,
        user: &str,
    ) -> Result<TokenPair, StoreError> {
        Ok(TokenPair {
            access_token: key.open(
                account,
                user,
                Field::Access,
                &self.key_id,
                &self.access_token_enc,
            )?,
            refresh_token: key.open(
                account,
                user,
                Field::Refresh,
                &self.key_id,
                &self.refresh_token_enc,
            )?,
            generated_at: self.generated_at,
        })
    }
}

/// Stores (inserts or replaces) the pair for `account`/`user`, sealed with `key`.
pub async fn put(
    pool: &PgPool,
    key: &TokenKey,
    account_id: &str,
    user_id: &str,
    pair: &TokenPair,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO cc_tokens (account_id, user_id, access_token_enc, refresh_token_enc, key_id,
                                generated_at)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (account_id, user_id) DO UPDATE
         SET access_token_enc = excluded.access_token_enc,
             refresh_token_enc = excluded.refresh_token_enc, key_id = excluded.key_id,
             generated_at = excluded.generated_at, updated_at = now()",
    )
    .bind(account_id)
    .bind(user_id)
    .bind(key.seal(account_id, user_id, Field::Access, &pair.access_token))
    .bind(key.seal(account_id, user_id, Field::Refresh, &pair.refresh_token))
    .bind(key.key_id())
    .bind(pair.generated_at)
    .execute(pool)
    .await?;
    tracing::info!(account_id, user_id, key_id = key.key_id(), "tokens stored");
    Ok(())
}

/// The stored pair, decrypted.
pub async fn load(
    pool: &PgPool,
    key: &TokenKey,
    account_id: &str,
    user_id: &str,
) -> Result<TokenPair, StoreError> {
    let sealed = sqlx::query_as::<_, Sealed>(
        "SELECT access_token_enc, refresh_token_enc, key_id, generated_at FROM cc_tokens
         WHERE account_id = $1 AND user_id = $2",
    )
    .bind(account_id)
    .bind(user_id)
    .fetch_optional(pool)
    .await?
    .ok_or_else(|| no_tokens(account_id, user_id))?;
    sealed.open(key, account_id, user_id)
}

pub(crate) fn no_tokens(account_id: &str, user_id: &str) -> StoreError {
    StoreError::NoTokens {
        account_id: account_id.to_owned(),
        user_id: user_id.to_owned(),
    }
}
