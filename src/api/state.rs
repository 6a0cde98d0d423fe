//! `ApiState`: what every route shares, wired once by `startup::build_api` and cloned (one
//! `Arc`) into each request.

use std::ops::Deref;
use std::sync::Arc;
use std::time::Duration;

use crate::cc::{ApiLimiter, ClientConfig, ContactsClient, OAuthClient, SharedGate};
use crate::store::{DbTokenSource, TokenKey};

use super::auth::JwtVerifier;
use super::publisher::JobPublisher;

pub struct ApiContext {
    pub pool: sqlx::PgPool,
    pub jwt: JwtVerifier,
    pub token_key: TokenKey,
    pub oauth: OAuthClient,
    /// For the lists route: one attempt per call, so a 429 or a failure reaches the caller at
    /// once instead of holding the request through backoffs.
    pub client_config: ClientConfig,
    /// Built once from `client_config` (building one loads the TLS roots).
    pub http: reqwest::Client,
    /// The API key's pacing in this process, and the slots shared with the workers (Postgres):
    /// the API's calls count against the same key.
    pub limiter: Arc<ApiLimiter>,
    pub rate_gate: Arc<dyn SharedGate>,
    pub publisher: JobPublisher,
    pub s3: aws_sdk_s3::Client,
    pub bucket: String,
    pub export_prefix: String,
    pub max_attempts: i32,
    /// How long a presigned download URL stays valid.
    pub download_ttl: Duration,
}

#[derive(Clone)]
pub struct ApiState(Arc<ApiContext>);

impl ApiState {
    pub fn new(ctx: ApiContext) -> Self {
        Self(Arc::new(ctx))
    }

    /// The caller's stored tokens (refreshed before use when older than 24 h).
    pub fn token_source(&self, account_id: &str, user_id: &str) -> DbTokenSource {
        DbTokenSource::new(
            self.pool.clone(),
            self.token_key.clone(),
            account_id,
            user_id,
            self.oauth.clone(),
        )
    }

    /// A v3 client over `tokens`, paced with the workers on the same API key.
    pub fn contacts_client(
        &self,
        tokens: Arc<DbTokenSource>,
    ) -> Result<ContactsClient, crate::cc::CcError> {
        Ok(ContactsClient::with_http(
            self.client_config.clone(),
            self.http.clone(),
            tokens,
            self.limiter.clone(),
        )?
        .with_gate(self.rate_gate.clone()))
    }
}

impl Deref for ApiState {
    type Target = ApiContext;
    fn deref(&self) -> &ApiContext {
        &self.0
    }
}
