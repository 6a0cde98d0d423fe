//! `cc-export jobs list|show|cancel|retry`: operators' view and control of the job table.

use std::process::ExitCode;

use anyhow::Context;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use uuid::Uuid;

use super::db::DbArgs;
use crate::store::{JobRow, JobStatus, jobs};

/// Table cells longer than this are cut (`jobs show` prints the whole error).
const ERROR_WIDTH: usize = 48;

#[derive(clap::Args, Debug)]
pub struct JobsArgs {
    #[command(subcommand)]
    command: JobsCommand,
    #[command(flatten)]
    db: DbArgs,
}

#[derive(clap::Subcommand, Debug)]
enum JobsCommand {
    /// Jobs, newest first.
    List {
        #[arg(long, value_enum)]
        status: Option<JobStatus>,
        #[arg(long)]
        account: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: i64,
        #[arg(long)]
        json: bool,
    },
    /// One job in full, with the dead-lettered messages that named it.
    Show {
        id: Uuid,
        #[arg(long)]
        json: bool,
    },
    /// Cancel a queued or running job (a running one stops at its next checkpoint or heartbeat).
    Cancel { id: Uuid },
    /// Run a failed or cancelled job again, from the beginning.
    Retry { id: Uuid },
}

pub async fn run(args: JobsArgs) -> anyhow::Result<ExitCode> {
    let pool = args.db.pool(2).await?;
    match args.command {
        JobsCommand::List {
            status,
            account,
            limit,
            json,
        } => {
            let rows = jobs::list(&pool, status, account.as_deref(), limit).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&rows)?);
            } else {
                print!("{}", table(&rows));
            }
        }
        JobsCommand::Show { id, json } => {
            let row = jobs::get(&pool, id)
                .await?
                .with_context(|| format!("job {id} not found"))?;
            let rejections = jobs::rejections(&pool, id).await?;
            if json {
                let mut v = serde_json::to_value(&row)?;
                v["rejections"] = serde_json::to_value(&rejections)?;
                println!("{}", serde_json::to_string_pretty(&v)?);
            } else {
                print!("{}", details(&row));
                for r in &rejections {
                    println!("rejected:        {} {}", ts(Some(r.created_at)), r.reason);
                }
            }
        }
        JobsCommand::Cancel { id } => {
            let row = jobs::cancel(&pool, id).await?;
            println!(
                "cancelled job {id} (account {}); a running worker stops at its next checkpoint",
                row.account_id
            );
        }
        JobsCommand::Retry { id } => {
            let row = jobs::retry(&pool, id).await?;
            println!(
                "queued job {id} (account {}) again from the beginning; attempts reset",
                row.account_id
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn progress(row: &JobRow) -> String {
    match row.total_expected {
        Some(total) => format!("{}/{}", row.total_processed, total),
        None => format!("{}/?", row.total_processed),
    }
}

fn rate(row: &JobRow) -> String {
    row.rate()
        .map_or_else(|| "-".into(), |r| format!("{r:.1}/s"))
}

fn one_line(s: &str) -> String {
    s.replace(['\n', '\r', '\t'], " ")
}

fn truncate(s: &str, max: usize) -> String {
    let s = one_line(s);
    if s.chars().count() <= max {
        return s;
    }
    let cut: String = s.chars().take(max.saturating_sub(1)).collect();
    format!("{cut}…")
}

fn ts(t: Option<OffsetDateTime>) -> String {
    t.and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_else(|| "-".into())
}

/// An aligned table, one job per line.
pub fn table(rows: &[JobRow]) -> String {
    let header = [
        "ID", "ACCOUNT", "STATUS", "PROGRESS", "RATE", "ATTEMPTS", "ERROR", "OUTPUT",
    ];
    let mut lines: Vec<Vec<String>> = vec![header.iter().map(|h| h.to_string()).collect()];
    for r in rows {
        lines.push(vec![
            r.id.to_string(),
            r.account_id.clone(),
            r.status.to_string(),
            progress(r),
            rate(r),
            format!("{}/{}", r.attempts, r.max_attempts),
            r.error
                .as_deref()
                .map_or_else(|| "-".into(), |e| truncate(e, ERROR_WIDTH)),
            if r.output_key.is_empty() {
                "-".into()
            } else {
                r.output_key.clone()
            },
        ]);
    }
    let mut widths = vec![0; header.len()];
    for line in &lines {
        for (w, cell) in widths.iter_mut().zip(line) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for line in &lines {
        let mut cells = Vec::with_capacity(line.len());
        for (i, cell) in line.iter().enumerate() {
            let last = i + 1 == line.len();
            let pad = widths[i] - cell.chars().count();
            cells.push(if last {
                cell.clone()
            } else {
                format!("{cell}{}", " ".repeat(pad))
            });
        }
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out
}

/// Every field of one job, one per line.
pub fn details(r: &JobRow) -> String {
    let spec = r.spec.as_ref();
    let fields: Vec<(&str, String)> = vec![
        ("id", r.id.to_string()),
        ("account", r.account_id.clone()),
        ("user", r.user_id.clone()),
        ("status", r.status.to_string()),
        ("progress", progress(r)),
        ("rate", rate(r)),
        ("pages", r.pages.to_string()),
        ("fetch done", r.fetch_done.to_string()),
        (
            "last cursor",
            r.last_cursor.clone().unwrap_or_else(|| "-".into()),
        ),
        ("attempts", format!("{}/{}", r.attempts, r.max_attempts)),
        ("restarts", r.restarts.to_string()),
        (
            "format",
            spec.map_or_else(
                || {
                    r.spec_error
                        .clone()
                        .unwrap_or_else(|| "- (dead-lettered message)".into())
                },
                |s| {
                    format!(
                        "{}{}",
                        s.format.extension(),
                        if s.gzip { " gzip" } else { "" }
                    )
                },
            ),
        ),
        ("output", r.output_key.clone()),
        ("output bytes", r.output_bytes.to_string()),
        (
            "upload id",
            r.upload_id.clone().unwrap_or_else(|| "-".into()),
        ),
        (
            "lease owner",
            r.lease_owner.clone().unwrap_or_else(|| "-".into()),
        ),
        ("lease expires", ts(r.lease_expires_at)),
        ("heartbeat", ts(r.heartbeat_at)),
        ("run after", ts(Some(r.run_after))),
        ("created", ts(Some(r.created_at))),
        ("started", ts(r.started_at)),
        ("updated", ts(Some(r.updated_at))),
        ("finished", ts(r.finished_at)),
        (
            "error",
            r.error.as_deref().map_or_else(|| "-".into(), one_line),
        ),
    ];
    fields
        .into_iter()
        .map(|(k, v)| format!("{:<16} {v}\n", format!("{k}:")))
        .collect()
}
