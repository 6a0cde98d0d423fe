//! `cc-export migrate`: applies `migrations/` to the database.

use std::process::ExitCode;

use anyhow::Context;

use super::db::DbArgs;

#[derive(clap::Args, Debug)]
pub struct MigrateArgs {
    #[command(flatten)]
    db: DbArgs,
}

pub async fn run(args: MigrateArgs) -> anyhow::Result<ExitCode> {
    let pool = args.db.pool(1).await?;
    crate::store::migrate(&pool)
        .await
        .context("applying migrations")?;
    println!("migrations applied");
    Ok(ExitCode::SUCCESS)
}
