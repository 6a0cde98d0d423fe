//! The `cc-export` command line: parses, sets up logging, runs a command, maps errors to one
//! line on stderr and an exit code.

mod db;
mod enqueue;
mod export;
mod jobs;
mod migrate;
mod schedules;
mod serve;
mod sim;
mod tokens;
mod worker;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::config::LogSettings;

#[derive(Parser, Debug)]
#[command(
    name = "cc-export",
    version,
    args_override_self = true,
    about = "Export every contact of a Constant Contact account, exactly once"
)]
pub struct Cli {
    #[command(flatten)]
    log: LogSettings,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run one export in the foreground (resumable; `--simulate N` needs no servers at all).
    Export(Box<export::ExportArgs>),
    /// Publish an export job to the queue (publisher confirms); print its job_id.
    Enqueue(Box<enqueue::EnqueueArgs>),
    /// Serve the HTTP API (JWT auth): contacts page by page, export jobs over HTTP.
    Serve(Box<crate::startup::ServeArgs>),
    /// Serve the Constant Contact simulator (v3 contacts + OAuth token endpoint).
    Sim(sim::SimArgs),
    /// Consume export jobs until SIGTERM/SIGINT, then hand running jobs back and exit 0.
    Worker(Box<crate::startup::WorkerArgs>),
    /// Apply the database migrations (`migrations/`).
    Migrate(migrate::MigrateArgs),
    /// Store OAuth tokens for an account (encrypted with TOKEN_ENCRYPTION_KEY).
    Tokens(tokens::TokensArgs),
    /// List, inspect, cancel and retry export jobs.
    Jobs(jobs::JobsArgs),
    /// Add, list and remove scheduled syncs (cron, UTC); workers enqueue each due run once.
    Schedules(schedules::SchedulesArgs),
}

/// Exit codes: 0 done, 1 failed, 2 bad usage (clap), 3 re-authentication required,
/// 130 interrupted (rerun the same command to resume).
pub mod exit {
    pub const FAILED: u8 = 1;
    pub const REAUTH: u8 = 3;
    pub const INTERRUPTED: u8 = 130;
}

/// Parses the command line, then runs the command on the runtime it calls for.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    if cli.one_worker_thread() {
        runtime.worker_threads(1);
    }
    let runtime = runtime
        .enable_all()
        .build()
        .expect("the tokio runtime starts");
    runtime.block_on(run(cli))
}

impl Cli {
    /// A foreground export of a real account gets one worker thread beside the main one: its
    /// pipeline needs ~1 % of a core at the API's rate limit, and a pool of one spares it the
    /// work-stealing wake-ups across threads (~0.5 µs of CPU per contact, most of it system
    /// time, in the limit-lifted benchmark: docs/PERFORMANCE.md). The fetch tasks run on the worker and the sink's writes and fsyncs on the
    /// main thread, so a slow fsync does not hold back the next request. Everything else
    /// gets a thread per core: the worker's concurrent jobs, the servers, and `--simulate`,
    /// whose in-process simulator builds pages meanwhile.
    fn one_worker_thread(&self) -> bool {
        matches!(&self.command, Command::Export(args) if !args.simulates())
    }
}

async fn run(cli: Cli) -> ExitCode {
    crate::telemetry::init(cli.log.log_format);
    let result = match cli.command {
        Command::Export(args) => export::run(*args).await,
        Command::Enqueue(args) => enqueue::run(*args).await,
        Command::Serve(args) => serve::run(*args).await,
        Command::Sim(args) => sim::run(args).await,
        Command::Worker(args) => worker::run(*args).await,
        Command::Migrate(args) => migrate::run(args).await,
        Command::Tokens(args) => tokens::run(args).await,
        Command::Jobs(args) => jobs::run(args).await,
        Command::Schedules(args) => schedules::run(args).await,
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {}", one_line(&err));
            ExitCode::from(exit_code_of(&err))
        }
    }
}

/// The whole cause chain on one line, so scripts and operators see the reason at a glance.
fn one_line(err: &anyhow::Error) -> String {
    format!("{err:#}").replace(['\n', '\r'], " ")
}

fn exit_code_of(err: &anyhow::Error) -> u8 {
    let reauth = err.chain().any(|e| {
        matches!(
            e.downcast_ref::<crate::cc::CcError>(),
            Some(crate::cc::CcError::ReauthRequired { .. })
        ) || matches!(
            e.downcast_ref::<crate::cc::TokenError>(),
            Some(crate::cc::TokenError::ReauthRequired { .. })
        )
    });
    if reauth { exit::REAUTH } else { exit::FAILED }
}

/// Resolves on SIGINT or SIGTERM.
pub(crate) async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
}
