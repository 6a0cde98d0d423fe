//! `cc-export tokens put`: stores an account's OAuth pair, encrypted with TOKEN_ENCRYPTION_KEY.
//! Tokens are never printed; prefer the environment variables over flags (flags show in `ps`).

use std::process::ExitCode;

use anyhow::Context;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::db::DbArgs;
use crate::cc::TokenPair;
use crate::config::TokenKeySettings;
use crate::secret::Secret;
use crate::store::{TokenKey, tokens};

#[derive(clap::Args, Debug)]
pub struct TokensArgs {
    #[command(subcommand)]
    command: TokensCommand,
}

#[derive(clap::Subcommand, Debug)]
enum TokensCommand {
    /// Store (or replace) the tokens of an account's user.
    Put(PutArgs),
}

#[derive(clap::Args, Debug)]
struct PutArgs {
    /// Constant Contact account id.
    #[arg(long)]
    account: String,
    /// The user whose tokens these are (the job's `user_id`).
    #[arg(long)]
    user: String,
    #[arg(long, env = "CC_ACCESS_TOKEN", hide_env_values = true)]
    access_token: Secret,
    #[arg(long, env = "CC_REFRESH_TOKEN", hide_env_values = true)]
    refresh_token: Secret,
    /// When the access token was issued (RFC 3339; default now). Older than 24 h is refreshed
    /// before its first use.
    #[arg(long, value_parser = parse_rfc3339)]
    generated_at: Option<OffsetDateTime>,
    #[command(flatten)]
    key: TokenKeySettings,
    #[command(flatten)]
    db: DbArgs,
}

fn parse_rfc3339(s: &str) -> Result<OffsetDateTime, String> {
    OffsetDateTime::parse(s, &Rfc3339).map_err(|e| format!("not an RFC 3339 instant: {e}"))
}

pub async fn run(args: TokensArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        TokensCommand::Put(put) => run_put(put).await,
    }
}

async fn run_put(args: PutArgs) -> anyhow::Result<ExitCode> {
    if args.access_token.expose().is_empty() || args.refresh_token.expose().is_empty() {
        anyhow::bail!("access and refresh tokens must not be empty");
    }
    let key = TokenKey::from_settings(&args.key)?;
    let pool = args.db.pool(1).await?;
    let pair = TokenPair {
        access_token: args.access_token,
        refresh_token: args.refresh_token,
        generated_at: args.generated_at.unwrap_or_else(OffsetDateTime::now_utc),
    };
    tokens::put(&pool, &key, &args.account, &args.user, &pair)
        .await
        .context("storing tokens")?;
    println!(
        "stored tokens for account {} user {} (key id {})",
        args.account,
        args.user,
        key.key_id()
    );
    Ok(ExitCode::SUCCESS)
}
