//! The one-shot export joins the workers' shared rate limit and daily quota when it can reach
//! their Postgres (`DATABASE_URL`), so running it beside them never pushes the API key over its
//! limit. Without a database it paces with its own limiter only.

use std::sync::Arc;

use anyhow::{Context, bail};

use crate::cc::ContactsClient;
use crate::config::ApiSettings;
use crate::secret::Secret;
use crate::store::{self, PgRateGate};

/// `client`, also waiting on the shared gate when `database_url` is set and not opted out.
pub(super) async fn join(
    client: ContactsClient,
    database_url: Option<&Secret>,
    opt_out: bool,
    api: &ApiSettings,
) -> anyhow::Result<ContactsClient> {
    let Some(url) = database_url.filter(|_| !opt_out) else {
        tracing::info!("pacing with this process's limiter only (no shared rate limit)");
        return Ok(client);
    };
    // Two connections: the gate's statements are short, one at a time per export.
    let pool = store::connect(url.expose(), 2)
        .await
        .context("joining the shared rate limit (DATABASE_URL; --no-shared-limit to pace alone)")?;
    if !PgRateGate::is_migrated(&pool).await? {
        bail!("the shared rate limit's tables are missing: run `cc-export migrate`");
    }
    let key = api.client_id.as_deref().unwrap_or("default");
    let gate = PgRateGate::new(pool, key, api.rate_limit_rps, api.daily_quota);
    tracing::info!("sharing the API key's rate limit and daily quota through Postgres");
    Ok(client.with_gate(Arc::new(gate)))
}
