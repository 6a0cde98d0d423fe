//! `cc-export export`: one export in the foreground, resumable from its state file.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, bail};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::exit;
use crate::cc::{ContactsClient, ContactsQuery, TokenPair};
use crate::config::{ApiSettings, S3Settings};
use crate::encode::{Format, build_encoder, resolve_columns};
use crate::export::stage_cpu::{self, Stage};
use crate::export::{self, ExportSpec, ExportState, Plan, Progress, StateFile};
use crate::secret::Secret;
use crate::sim::{SimConfig, Simulator};
use crate::sink::FileSink;
use crate::sink::file::partial_path;
use crate::sink::s3::{self, S3Location, S3Sink, S3SinkOptions, StateFileLedger};
use target::{Sink, Target, content_type};

mod client;
mod shared;
mod target;

use client::{TokenOrigin, build_client, load_tokens};

#[derive(clap::Args, Debug)]
pub struct ExportArgs {
    /// Constant Contact account id (with --simulate: any name, default "sim").
    #[arg(long, env = "EXPORT_ACCOUNT", required_unless_present = "simulate")]
    account: Option<String>,
    /// Output file, or s3://BUCKET/KEY to upload to an object store (a multipart upload whose
    /// parts are checkpointed; the key is used exactly as given). S3_ENDPOINT_URL,
    /// S3_FORCE_PATH_STYLE, S3_PART_SIZE_MIB and the usual AWS_* variables apply.
    #[arg(long, env = "EXPORT_OUT")]
    out: String,
    #[arg(long, env = "EXPORT_FORMAT", value_enum, default_value_t = Format::Csv)]
    format: Format,
    /// Compress the output (each checkpointed chunk is one gzip member).
    #[arg(long, env = "EXPORT_GZIP")]
    gzip: bool,
    /// CSV columns to write, in order, comma-separated; `custom_field:<id>` for a custom field.
    #[arg(long, env = "EXPORT_COLUMNS")]
    columns: Option<String>,
    /// Only members of these lists (comma-separated list ids, at most 25).
    #[arg(long, env = "EXPORT_LISTS", value_delimiter = ',')]
    lists: Vec<String>,
    /// Contact statuses (comma-separated; `all` includes deleted contacts).
    #[arg(long, env = "EXPORT_STATUS", value_delimiter = ',')]
    status: Vec<String>,
    /// Only contacts updated after this instant (RFC 3339).
    #[arg(long, env = "EXPORT_UPDATED_AFTER", value_parser = parse_rfc3339)]
    updated_after: Option<String>,
    /// Contacts per API request (the API allows 1..=500).
    #[arg(long, env = "EXPORT_BATCH_SIZE", default_value_t = 500, value_parser = clap::value_parser!(u16).range(1..=500))]
    batch_size: u16,
    /// Checkpoint file (default: `<out>.state.json`; for s3://BUCKET/KEY `./<key's last
    /// segment>.state.json` in the current directory, which also holds the upload id and parts).
    #[arg(long, env = "EXPORT_STATE")]
    state: Option<PathBuf>,
    /// Neutralise cells starting with = + - @ (for spreadsheet users).
    #[arg(long, env = "EXPORT_ESCAPE_FORMULAS")]
    escape_formulas: bool,
    /// Ignore an existing checkpoint and export from the beginning (aborting its upload, if any).
    #[arg(long, env = "EXPORT_RESTART")]
    restart: bool,
    /// Start the built-in simulator with N contacts and export from it (needs no servers).
    #[arg(long, env = "EXPORT_SIMULATE")]
    simulate: Option<u64>,
    /// Dataset seed of the simulator.
    #[arg(long, env = "EXPORT_SIM_SEED", default_value_t = 42)]
    sim_seed: u64,
    /// The simulator answers each request after this many milliseconds (a distant API).
    #[arg(long, env = "EXPORT_SIM_LATENCY_MS", default_value_t = 0)]
    sim_latency_ms: u64,
    /// Access token (when not simulating).
    #[arg(long, env = "CC_ACCESS_TOKEN", hide_env_values = true)]
    access_token: Option<Secret>,
    /// Refresh token (when not simulating).
    #[arg(long, env = "CC_REFRESH_TOKEN", hide_env_values = true)]
    refresh_token: Option<Secret>,
    /// When the access token was issued (RFC 3339); older than 24 h is refreshed first.
    #[arg(long, env = "CC_TOKEN_GENERATED_AT", value_parser = parse_rfc3339)]
    token_generated_at: Option<String>,
    /// Where rotated tokens are kept (mode 0600; default `<out>.tokens.json`). Refresh tokens are
    /// single-use, so the new pair must be saved before it is used.
    #[arg(long, env = "EXPORT_TOKEN_FILE")]
    token_file: Option<PathBuf>,
    /// Postgres of the workers: when set, this export takes the API key's request slots and
    /// daily quota there, shared with them (not with --simulate, whose API is private).
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    database_url: Option<Secret>,
    /// Pace with this process's limiter only, even when DATABASE_URL is set.
    #[arg(long, env = "EXPORT_NO_SHARED_LIMIT")]
    no_shared_limit: bool,
    #[command(flatten)]
    api: ApiSettings,
    #[command(flatten)]
    s3: S3Settings,
}

fn parse_rfc3339(s: &str) -> Result<String, String> {
    OffsetDateTime::parse(s, &Rfc3339)
        .map(|_| s.to_owned())
        .map_err(|e| format!("not an RFC 3339 date-time: {e}"))
}

impl ExportArgs {
    /// Whether the export reads the in-process simulator (`--simulate N`).
    pub fn simulates(&self) -> bool {
        self.simulate.is_some()
    }
}

pub async fn run(args: ExportArgs) -> anyhow::Result<ExitCode> {
    let target = if args.out.starts_with("s3://") {
        let loc = S3Location::parse(&args.out)?;
        let client = s3::s3_client(&args.s3).await?;
        Target::S3 { loc, client }
    } else {
        Target::File(PathBuf::from(&args.out))
    };
    let base = target.local_base();
    let account = args.account.clone().unwrap_or_else(|| "sim".to_owned());
    let spec = ExportSpec {
        account_id: account.clone(),
        query: ContactsQuery {
            limit: args.batch_size,
            lists: args.lists.clone(),
            status: args.status.clone(),
            updated_after: args.updated_after.clone(),
            include: args.format.includes(),
            ..ContactsQuery::default()
        },
        format: args.format,
        gzip: args.gzip,
        columns: args.columns.clone(),
        escape_formulas: args.escape_formulas,
    };
    if spec.format == Format::Ndjson && spec.columns.is_some() {
        bail!("--columns applies to CSV; NDJSON carries every field as the API gave it");
    }
    let state_file = args
        .state
        .clone()
        .map(StateFile::new)
        .unwrap_or_else(|| StateFile::beside(&base));

    let mut api = args.api.clone();
    let (_sim, tokens) = if let Some(n) = args.simulate {
        let sim =
            start_simulator(n, args.sim_seed, args.sim_latency_ms, api.rate_limit_rps).await?;
        api.api_base_url = sim.base_url().parse()?;
        api.auth_url = sim.auth_url().parse()?;
        api.client_id = Some("sim-client".into());
        api.client_secret = Some(Secret::new("sim-secret"));
        let t = sim.issue_tokens(&account);
        let pair = TokenPair {
            access_token: t.access_token.into(),
            refresh_token: t.refresh_token.into(),
            generated_at: OffsetDateTime::now_utc(),
        };
        (Some(sim), TokenOrigin::Simulator(pair))
    } else {
        (None, load_tokens(&args, &base)?)
    };
    let client = build_client(&api, tokens)?;
    let opt_out = args.no_shared_limit || args.simulate.is_some();
    let client = Arc::new(shared::join(client, args.database_url.as_ref(), opt_out, &api).await?);

    let Some(state) = prepare_state(&state_file, &target, &spec, args.restart, &client).await?
    else {
        println!(
            "{} is already complete (per {}); use --restart to export again",
            target.display(),
            state_file.path().display()
        );
        return Ok(ExitCode::SUCCESS);
    };
    let resumed = state.pages > 0;
    if resumed {
        tracing::info!(
            rows = state.rows,
            pages = state.pages,
            "resuming from checkpoint {}",
            state_file.path().display()
        );
    }
    let plan = Plan {
        query: spec.query.clone(),
        encoders: {
            let (format, columns, escape) =
                (spec.format, state.columns.clone(), spec.escape_formulas);
            Arc::new(move || build_encoder(format, &columns, escape))
        },
        gzip: spec.gzip,
        max_restarts: 3,
        partitions: args.api.partitions,
    };
    let start = state.position();
    let mut progress = Progress::new(std::io::stderr().is_terminal(), state.total, state.rows);
    let mut sink = match target {
        Target::File(out) => Sink::File(Box::new(FileSink::open(&out, state_file.clone(), state)?)),
        Target::S3 { loc, client } => {
            let options = S3SinkOptions {
                part_size: args.s3.s3_part_size_mib * 1024 * 1024,
                job_id: state
                    .job_id
                    .clone()
                    .context("the checkpoint has no job id")?,
                content_type: Some(content_type(&spec).to_owned()),
            };
            let ledger = Arc::new(StateFileLedger::new(state_file.clone(), state));
            let sink = S3Sink::open(client, loc, options, ledger.clone()).await?;
            Sink::S3(Box::new(sink), ledger)
        }
    };

    let outcome = tokio::select! {
        r = export::run(client, plan, start, sink.as_dyn(), &mut progress) => r?,
        _ = super::shutdown_signal() => {
            let rows = sink.checkpointed_rows();
            progress.finish(rows);
            eprintln!("interrupted after {rows} contacts; rerun the same command to resume");
            return Ok(ExitCode::from(exit::INTERRUPTED));
        }
    };
    if let Sink::S3(_, ledger) = &sink {
        ledger.mark_complete(&outcome.position)?;
    }
    let secs = outcome.elapsed.as_secs_f64();
    let mut line = format!(
        "exported {} contacts to {} ({} bytes) in {:.1} s ({:.0} contacts/s{})",
        outcome.position.rows,
        outcome.summary.location,
        outcome.summary.bytes,
        secs,
        outcome.position.rows as f64 / secs.max(1e-9),
        if resumed { ", resumed" } else { "" }
    );
    if let (Some(cpu), false, 1..) = (stage_cpu::pipeline_total(), resumed, outcome.position.rows) {
        // Per contact of this run (a resumed run did not read the contacts stored before).
        let us = |d: std::time::Duration| d.as_secs_f64() * 1e6 / outcome.position.rows as f64;
        line.push_str(&format!(
            "; pipeline CPU {:.2} µs per contact (read {:.2}, encode {:.2}, write {:.2})",
            us(cpu),
            us(stage_cpu::total(Stage::Read)),
            us(stage_cpu::total(Stage::Encode)),
            us(stage_cpu::total(Stage::Write)),
        ));
    }
    if outcome.restarts > 0 {
        line.push_str(&format!(
            ", restarted {} times after the API refused a cursor",
            outcome.restarts
        ));
    }
    if let Some(sim) = &_sim {
        let s = sim.stats();
        line.push_str(&format!(
            "; simulator: {} requests, {:.2} requests/s, peak {} in any 1 s, {} throttled",
            s.requests,
            s.requests as f64 / secs.max(1e-9),
            s.max_requests_in_any_1s,
            s.throttled
        ));
    }
    println!("{line}");
    Ok(ExitCode::SUCCESS)
}

async fn start_simulator(
    contacts: u64,
    seed: u64,
    latency_ms: u64,
    rps: u32,
) -> anyhow::Result<Simulator> {
    // The simulator enforces the same limit the client keeps to, as the real API would. No deleted
    // contacts, so `--simulate N` exports exactly N.
    let cfg = SimConfig {
        contacts,
        seed,
        rate_limit_rps: Some(rps),
        deleted_per_mille: 0,
        latency: std::time::Duration::from_millis(latency_ms),
        ..SimConfig::default()
    };
    Simulator::start(cfg, "127.0.0.1:0".parse()?)
        .await
        .context("starting the simulator")
}

/// Loads the checkpoint or starts a new one. `None`: the export already finished.
async fn prepare_state(
    state_file: &StateFile,
    target: &Target,
    spec: &ExportSpec,
    restart: bool,
    client: &ContactsClient,
) -> anyhow::Result<Option<ExportState>> {
    if restart {
        if let Target::S3 { loc, client } = target {
            // An unreadable checkpoint has no upload to abort that we could know of.
            if let Ok(Some(old)) = state_file.load()
                && let Some(id) = old.upload_id.as_deref()
            {
                s3::abort_upload(client, &loc.bucket, &loc.key, id).await?;
                tracing::info!("aborted the earlier export's upload to {loc}");
            }
        }
        state_file.remove()?;
        if let Target::File(out) = target {
            let _ = std::fs::remove_file(partial_path(out));
        }
    }
    if let Some(state) = state_file.load()? {
        if &state.spec != spec {
            bail!(
                "{} belongs to an export with other settings ({}); rerun with --restart or pick another --state",
                state_file.path().display(),
                serde_json::to_string(&state.spec)?
            );
        }
        if state.output != target.recorded_output() {
            bail!(
                "{} belongs to an export to {}; rerun with --restart or pick another --state",
                state_file.path().display(),
                state.output.as_deref().unwrap_or("a local file")
            );
        }
        if state.complete && target.holds(&state).await? {
            return Ok(None);
        }
        if !state.complete {
            return Ok(Some(state));
        }
        tracing::warn!(
            "{} was finished but is gone; exporting again",
            target.display()
        );
    }
    let columns = if spec.format == Format::Csv {
        let custom_fields = client
            .custom_fields()
            .await
            .context("reading the account's custom fields")?;
        resolve_columns(spec.columns.as_deref(), &custom_fields)?
    } else {
        Vec::new()
    };
    let mut state = ExportState::new(spec.clone(), columns);
    match target {
        Target::File(out) => {
            let _ = std::fs::remove_file(partial_path(out));
        }
        Target::S3 { .. } => {
            state.output = target.recorded_output();
            state.job_id = Some(uuid::Uuid::new_v4().to_string());
        }
    }
    state_file.save(&state)?;
    Ok(Some(state))
}
