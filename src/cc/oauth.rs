//! `OAuthClient`: the refresh-token grant against the Constant Contact token endpoint.

use std::time::Duration;

use reqwest::header::ACCEPT;
use serde::Deserialize;
use url::Url;

use super::error::chain;
use super::token::{TokenError, TokenPair};
use crate::secret::Secret;

/// Connect attempts for one refresh (see [`OAuthClient::refresh`] for why only connects).
const CONNECT_ATTEMPTS: u32 = 3;

#[derive(Debug, Clone)]
pub struct OAuthConfig {
    /// The token endpoint, e.g. `https://authz.constantcontact.com/oauth2/default/v1/token`.
    pub auth_url: Url,
    pub client_id: String,
    pub client_secret: Secret,
    pub user_agent: String,
    pub timeout: Duration,
}

#[derive(Debug, Clone)]
pub struct OAuthClient {
    cfg: OAuthConfig,
    http: reqwest::Client,
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: Secret,
    #[serde(default)]
    refresh_token: Option<Secret>,
}

#[derive(Deserialize)]
struct ErrorAnswer {
    #[serde(default)]
    error: String,
    #[serde(default)]
    error_description: String,
}

impl OAuthClient {
    pub fn new(cfg: OAuthConfig) -> Result<Self, TokenError> {
        let http = reqwest::Client::builder()
            .user_agent(cfg.user_agent.clone())
            .timeout(cfg.timeout)
            .connect_timeout(cfg.timeout.min(Duration::from_secs(10)))
            .build()
            .map_err(|e| TokenError::Transport(chain(&e)))?;
        Ok(Self { cfg, http })
    }

    /// Spends `refresh_token` for a new pair. The caller must store the pair before using it:
    /// refresh tokens are single-use, so the old one is worthless once this returns `Ok`.
    pub async fn refresh(&self, refresh_token: &Secret) -> Result<TokenPair, TokenError> {
        let mut attempt = 0;
        let resp = loop {
            attempt += 1;
            let sent = self
                .http
                .post(self.cfg.auth_url.clone())
                .basic_auth(&self.cfg.client_id, Some(self.cfg.client_secret.expose()))
                .header(ACCEPT, "application/json")
                .form(&[
                    ("grant_type", "refresh_token"),
                    ("refresh_token", refresh_token.expose()),
                ])
                .send()
                .await;
            match sent {
                Ok(resp) => break resp,
                // Only a connect error proves the request never reached the server. Any later
                // failure (timeout, reset, 5xx) may have spent the refresh token with the answer
                // lost; retrying it would then earn `invalid_grant` and hide the real cause.
                Err(e) if e.is_connect() && attempt < CONNECT_ATTEMPTS => {
                    tracing::debug!(attempt, "token endpoint unreachable, retrying");
                    tokio::time::sleep(Duration::from_millis(500) * attempt).await;
                }
                Err(e) => return Err(TokenError::Transport(chain(&e.without_url()))),
            }
        };
        let status = resp.status();
        let body = resp
            .bytes()
            .await
            .map_err(|e| TokenError::Transport(chain(&e.without_url())))?;
        if status.is_success() {
            // serde's message may quote the input (a token): report only where it broke.
            let answer: TokenAnswer = serde_json::from_slice(&body).map_err(|e| {
                TokenError::Malformed(format!(
                    "token answer is not the expected JSON ({:?} error at line {} column {})",
                    e.classify(),
                    e.line(),
                    e.column()
                ))
            })?;
            if answer.access_token.expose().is_empty() {
                return Err(TokenError::Malformed("empty access_token".into()));
            }
            return Ok(TokenPair {
                access_token: answer.access_token,
                // Without rotation the server sends no new refresh token: the old one stays valid.
                refresh_token: answer
                    .refresh_token
                    .filter(|t| !t.expose().is_empty())
                    .unwrap_or_else(|| refresh_token.clone()),
                generated_at: time::OffsetDateTime::now_utc(),
            });
        }
        let err: ErrorAnswer = serde_json::from_slice(&body).unwrap_or(ErrorAnswer {
            error: String::new(),
            error_description: String::new(),
        });
        if err.error == "invalid_grant" {
            return Err(TokenError::ReauthRequired {
                description: one_line(&err.error_description),
            });
        }
        Err(TokenError::Rejected {
            status: status.as_u16(),
            error: one_line(&err.error),
            description: one_line(&err.error_description),
        })
    }
}

fn one_line(s: &str) -> String {
    s.replace(['\n', '\r'], " ")
}
