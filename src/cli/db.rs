//! `DATABASE_URL` for the commands that need Postgres, with a one-line error when it is absent
//! (clap's "required argument" message spans several lines and names a flag, not the variable).

use anyhow::Context;
use sqlx::PgPool;

use crate::secret::Secret;

#[derive(clap::Args, Debug, Clone)]
pub struct DbArgs {
    /// Postgres URL (postgres://USER[:PASSWORD]@HOST:PORT/DB).
    #[arg(long, env = "DATABASE_URL", hide_env_values = true, global = true)]
    database_url: Option<Secret>,
}

impl DbArgs {
    pub async fn pool(&self, max_conns: u32) -> anyhow::Result<PgPool> {
        let url = self.database_url.as_ref().context(
            "DATABASE_URL is not set: this command needs Postgres (postgres://USER@HOST:5432/DB)",
        )?;
        crate::store::connect(url.expose(), max_conns)
            .await
            .context("cannot connect to Postgres (DATABASE_URL)")
    }
}
