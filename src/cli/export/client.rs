//! The one-shot export's API client: tokens from flags, env or the token file an earlier run
//! rotated into, and the rotated pair saved (0600, atomically) before it is used.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::ExportArgs;
use crate::cc::{
    ApiLimiter, ClientConfig, ContactsClient, MemoryTokenSource, OAuthClient, OAuthConfig,
    PersistFn, TokenPair,
};
use crate::config::ApiSettings;

const TOKEN_MAX_AGE: Duration = Duration::from_secs(24 * 3600);

pub(super) enum TokenOrigin {
    Simulator(TokenPair),
    /// Real tokens, and the file the rotated pair goes to.
    Stored(TokenPair, PathBuf),
}

/// Tokens for a real account: the token file when an earlier run rotated them, else flags/env.
pub(super) fn load_tokens(args: &ExportArgs, out: &Path) -> anyhow::Result<TokenOrigin> {
    let path = args
        .token_file
        .clone()
        .unwrap_or_else(|| crate::sink::file::with_suffix(out, ".tokens.json"));
    if let Ok(text) = std::fs::read(&path) {
        let pair: TokenPair = serde_json::from_slice(&text)
            .with_context(|| format!("reading tokens from {}", path.display()))?;
        tracing::info!(
            "using tokens rotated by an earlier run, from {}",
            path.display()
        );
        return Ok(TokenOrigin::Stored(pair, path));
    }
    let (Some(access), Some(refresh)) = (args.access_token.clone(), args.refresh_token.clone())
    else {
        bail!("no tokens: set CC_ACCESS_TOKEN and CC_REFRESH_TOKEN (or use --simulate N)");
    };
    let generated_at = match &args.token_generated_at {
        Some(s) => OffsetDateTime::parse(s, &Rfc3339)?,
        // Unknown age: assume fresh and let a 401 trigger the refresh.
        None => OffsetDateTime::now_utc(),
    };
    Ok(TokenOrigin::Stored(
        TokenPair {
            access_token: access,
            refresh_token: refresh,
            generated_at,
        },
        path,
    ))
}

pub(super) fn build_client(
    api: &ApiSettings,
    tokens: TokenOrigin,
) -> anyhow::Result<ContactsClient> {
    api.check_tls()?;
    let user_agent = crate::startup::user_agent();
    let oauth = match (&api.client_id, &api.client_secret) {
        (Some(id), Some(secret)) => Some(OAuthClient::new(OAuthConfig {
            auth_url: api.auth_url.clone(),
            client_id: id.clone(),
            client_secret: secret.clone(),
            user_agent: user_agent.clone(),
            timeout: api.request_timeout(),
        })?),
        _ => None,
    };
    let (pair, persist): (TokenPair, PersistFn) = match tokens {
        TokenOrigin::Simulator(pair) => (pair, Arc::new(|_: &TokenPair| Ok(()))),
        TokenOrigin::Stored(pair, path) => {
            (pair, Arc::new(move |p: &TokenPair| save_tokens(&path, p)))
        }
    };
    let source = Arc::new(MemoryTokenSource::new(pair, oauth, persist, TOKEN_MAX_AGE));
    let limiter = ApiLimiter::for_key(
        api.client_id.as_deref().unwrap_or("default"),
        api.rate_limit_rps,
    );
    let mut cfg = ClientConfig::new(api.api_base_url.clone());
    cfg.user_agent = user_agent;
    cfg.request_timeout = api.request_timeout();
    Ok(ContactsClient::new(cfg, source, limiter)?)
}

/// Writes the rotated pair atomically with owner-only permissions.
fn save_tokens(path: &Path, pair: &TokenPair) -> anyhow::Result<()> {
    use std::io::Write;
    let tmp = path.with_extension("tmp");
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let mut f = opts
        .open(&tmp)
        .with_context(|| format!("saving rotated tokens to {}", tmp.display()))?;
    f.write_all(&serde_json::to_vec(pair)?)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)
        .with_context(|| format!("saving rotated tokens to {}", path.display()))?;
    tracing::info!("saved the rotated token pair to {}", path.display());
    Ok(())
}
