//! `cc-export enqueue`: publish one export job (the seed's message shape) with publisher
//! confirms and print its job_id, the only line on stdout.

use std::process::ExitCode;

use anyhow::{Context, bail};
use uuid::Uuid;

use crate::config::AmqpSettings;
use crate::encode::Format;
use crate::queue::{self, JobMessage};

#[derive(clap::Args, Debug)]
pub struct EnqueueArgs {
    /// Constant Contact account id.
    #[arg(long, env = "ENQUEUE_ACCOUNT")]
    account: String,
    /// User whose stored tokens the job uses.
    #[arg(long, env = "ENQUEUE_USER")]
    user: String,
    /// Job id (default: a new UUID). Also the message's AMQP message_id.
    #[arg(long, env = "ENQUEUE_JOB_ID")]
    job_id: Option<Uuid>,
    /// Contacts per API request (1..=500).
    #[arg(long, env = "ENQUEUE_BATCH_SIZE", default_value_t = 500)]
    batch_size: u64,
    #[arg(long, env = "ENQUEUE_FORMAT", value_enum, default_value_t = Format::Csv)]
    format: Format,
    /// Compress the output.
    #[arg(long, env = "ENQUEUE_GZIP")]
    gzip: bool,
    /// CSV columns, comma-separated; `custom_field:<id>` for a custom field.
    #[arg(long, env = "ENQUEUE_COLUMNS")]
    columns: Option<String>,
    /// Only members of these lists (comma-separated list ids, at most 25).
    #[arg(long, env = "ENQUEUE_LISTS", value_delimiter = ',')]
    lists: Vec<String>,
    /// Only contacts updated after this instant (RFC 3339).
    #[arg(long, env = "ENQUEUE_UPDATED_AFTER")]
    updated_after: Option<String>,
    /// Resume point: the cursor following the last contact already exported.
    #[arg(long, env = "ENQUEUE_LAST_CURSOR")]
    last_cursor: Option<String>,
    /// Contacts already exported before `--last-cursor`.
    #[arg(long, env = "ENQUEUE_TOTAL_PROCESSED", default_value_t = 0)]
    total_processed: u64,
    /// Object key relative to EXPORT_PREFIX (default `{account}/{job_id}.{csv|ndjson}[.gz]`).
    #[arg(long, env = "ENQUEUE_OUTPUT_KEY")]
    output_key: Option<String>,
    /// Every object key the worker writes starts with this (checks --output-key as the worker
    /// will).
    #[arg(long, env = "EXPORT_PREFIX", default_value = "exports/")]
    export_prefix: String,
    #[command(flatten)]
    amqp: AmqpSettings,
}

pub async fn run(args: EnqueueArgs) -> anyhow::Result<ExitCode> {
    let job_id = args.job_id.unwrap_or_else(Uuid::new_v4);
    let message = JobMessage {
        batch_size: args.batch_size,
        last_cursor: args.last_cursor,
        total_processed: args.total_processed,
        format: args.format,
        gzip: args.gzip,
        columns: args.columns,
        lists: (!args.lists.is_empty()).then_some(args.lists),
        updated_after: args.updated_after,
        output_key: args.output_key,
        ..JobMessage::new(job_id, args.account, args.user)
    };
    let body = message.to_json();
    let id = job_id.to_string();
    // The worker's own rules: what it would dead-letter is refused here, before sending.
    if let Err(rejection) = queue::parse(&body, Some(&id), &args.export_prefix) {
        bail!("invalid job: {}", rejection.reason);
    }
    queue::publish_jobs(&args.amqp, "enqueue", &[(&body[..], id.clone())])
        .await
        .with_context(|| format!("job {id} was not enqueued"))?;
    println!("{id}");
    Ok(ExitCode::SUCCESS)
}
