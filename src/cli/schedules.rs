//! `cc-export schedules add|list|remove`: scheduled syncs. A worker enqueues each due run once
//! (see `worker::schedules`); these commands only touch the `export_schedules` table.

use std::process::ExitCode;

use anyhow::Context;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use uuid::Uuid;

use super::db::DbArgs;
use crate::encode::Format;
use crate::schedule::{CronExpr, CronExprError, JobTemplate};
use crate::store::schedules::{self, NewSchedule, ScheduleRow};

#[derive(clap::Args, Debug)]
pub struct SchedulesArgs {
    #[command(subcommand)]
    command: SchedulesCommand,
    #[command(flatten)]
    db: DbArgs,
}

#[derive(clap::Subcommand, Debug)]
enum SchedulesCommand {
    /// Add a schedule; print its id.
    Add(Box<AddArgs>),
    /// Schedules, soonest due first.
    List {
        #[arg(long)]
        account: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Remove a schedule (its jobs stay; a run already enqueued still runs).
    Remove { id: Uuid },
}

#[derive(clap::Args, Debug)]
struct AddArgs {
    /// Cron expression, five fields in UTC: minute hour day-of-month month day-of-week
    /// (e.g. "0 3 * * *" every day at 03:00 UTC; also @hourly, @daily, @weekly, @monthly).
    #[arg(long, env = "SCHEDULE_CRON", value_parser = cron_arg)]
    cron: String,
    #[arg(long, env = "SCHEDULE_ACCOUNT")]
    account: String,
    /// User whose stored tokens the runs use.
    #[arg(long, env = "SCHEDULE_USER")]
    user: String,
    /// A name for operators.
    #[arg(long, env = "SCHEDULE_NAME")]
    name: Option<String>,
    /// Each run exports the contacts updated after the start of the schedule's last succeeded
    /// run (the first run: after --updated-after, or every contact).
    #[arg(long, env = "SCHEDULE_INCREMENTAL")]
    incremental: bool,
    /// Contacts per API request (1..=500).
    #[arg(long, env = "SCHEDULE_BATCH_SIZE", default_value_t = 500)]
    batch_size: u64,
    #[arg(long, env = "SCHEDULE_FORMAT", value_enum, default_value_t = Format::Csv)]
    format: Format,
    #[arg(long, env = "SCHEDULE_GZIP")]
    gzip: bool,
    /// CSV columns, comma-separated; `custom_field:<id>` for a custom field.
    #[arg(long, env = "SCHEDULE_COLUMNS")]
    columns: Option<String>,
    /// Only members of these lists (comma-separated list ids, at most 25).
    #[arg(long, env = "SCHEDULE_LISTS", value_delimiter = ',')]
    lists: Vec<String>,
    /// Only contacts updated after this instant (RFC 3339); with --incremental, the first run's.
    #[arg(long, env = "SCHEDULE_UPDATED_AFTER")]
    updated_after: Option<String>,
    /// Object key relative to EXPORT_PREFIX; every run then replaces the same object
    /// (default: a new `{account}/{job_id}.{csv|ndjson}[.gz]` per run).
    #[arg(long, env = "SCHEDULE_OUTPUT_KEY")]
    output_key: Option<String>,
    /// Checks --output-key as the worker will.
    #[arg(long, env = "EXPORT_PREFIX", default_value = "exports/")]
    export_prefix: String,
}

fn cron_arg(s: &str) -> Result<String, CronExprError> {
    CronExpr::parse_firing(s, OffsetDateTime::now_utc()).map(|c| c.as_str().to_owned())
}

pub async fn run(args: SchedulesArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        SchedulesCommand::Add(add) => {
            let new = new_schedule(*add)?;
            let pool = args.db.pool(2).await?;
            let row = schedules::add(&pool, &new).await?;
            println!("{}", row.id);
            eprintln!(
                "schedule {} ({} UTC, account {}{}): first run at {}",
                row.id,
                row.cron,
                row.account_id,
                if row.incremental { ", incremental" } else { "" },
                ts(Some(row.next_run_at))
            );
        }
        SchedulesCommand::List { account, json } => {
            let pool = args.db.pool(2).await?;
            let rows = schedules::list(&pool, account.as_deref()).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&rows)?);
            } else {
                print!("{}", table(&rows));
            }
        }
        SchedulesCommand::Remove { id } => {
            let pool = args.db.pool(2).await?;
            let row = schedules::remove(&pool, id).await?;
            println!(
                "removed schedule {id} ({} UTC, account {}); its jobs stay",
                row.cron, row.account_id
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The schedule, its job fields checked by the worker's own rules before anything is stored.
fn new_schedule(a: AddArgs) -> anyhow::Result<NewSchedule> {
    let template = JobTemplate {
        batch_size: a.batch_size,
        format: a.format,
        gzip: a.gzip,
        columns: a.columns,
        lists: (!a.lists.is_empty()).then_some(a.lists),
        updated_after: a.updated_after,
        output_key: a.output_key,
    };
    template
        .spec(Uuid::new_v4(), &a.account, &a.user, None, &a.export_prefix)
        .map_err(|r| anyhow::anyhow!("invalid job fields: {}", r.reason))
        .context("schedule not added")?;
    Ok(NewSchedule {
        name: a.name,
        cron: a.cron,
        account_id: a.account,
        user_id: a.user,
        template,
        incremental: a.incremental,
    })
}

fn ts(t: Option<OffsetDateTime>) -> String {
    t.and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_else(|| "-".into())
}

/// An aligned table, one schedule per line.
fn table(rows: &[ScheduleRow]) -> String {
    let mut lines = vec![
        [
            "ID",
            "NAME",
            "CRON (UTC)",
            "ACCOUNT",
            "MODE",
            "NEXT RUN",
            "LAST JOB",
            "STATUS",
            "ERROR",
        ]
        .map(String::from)
        .to_vec(),
    ];
    for r in rows {
        lines.push(vec![
            r.id.to_string(),
            r.name.clone().unwrap_or_else(|| "-".into()),
            r.cron.clone(),
            r.account_id.clone(),
            (if r.incremental { "incremental" } else { "full" }).into(),
            ts(Some(r.next_run_at)),
            r.last_job_id
                .map_or_else(|| "-".into(), |id| id.to_string()),
            r.last_job_status
                .0
                .map_or_else(|| "-".into(), |s| s.to_string()),
            r.last_error
                .as_deref()
                .map_or_else(|| "-".into(), |e| e.replace(['\n', '\r'], " ")),
        ]);
    }
    let mut widths = vec![0; lines[0].len()];
    for line in &lines {
        for (w, cell) in widths.iter_mut().zip(line) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for line in &lines {
        let cells: Vec<String> = line
            .iter()
            .zip(&widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out
}
