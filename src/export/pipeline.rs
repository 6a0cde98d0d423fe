//! The export loop: lanes (fetch → encode → gzip member, per window) → sink, in window order,
//! each page handed to the sink with its position, which the sink checkpoints (the file sink at
//! most every 100 ms, the object store sink with each uploaded part). The same loop serves the
//! one-shot command (file sink) and the worker (object store sink).

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::fetch::ChainStart;
use super::lanes::{LaneConfig, Lanes};
use super::planner::{self, LANE_BUDGET};
use super::progress::Progress;
use super::windows::{Partitions, window_query};
use crate::cc::{CcError, ContactsClient, ContactsQuery};
use crate::encode::{EncodeError, Encoder};
use crate::sink::{PageSink, Position, SinkSummary};

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error(transparent)]
    Api(#[from] CcError),
    #[error("encoding contacts")]
    Encode(#[from] EncodeError),
    #[error("storing output")]
    Sink(#[source] anyhow::Error),
    #[error("the page fetcher stopped before the last page")]
    FetcherStopped,
    #[error("the API refused the export's cursor {restarts} times in a row; giving up")]
    TooManyRestarts { restarts: u32 },
}

impl ExportError {
    pub fn is_permanent(&self) -> bool {
        match self {
            ExportError::Api(e) => e.is_permanent(),
            ExportError::Encode(_) | ExportError::TooManyRestarts { .. } => true,
            ExportError::Sink(_) | ExportError::FetcherStopped => false,
        }
    }
}

/// Builds one encoder per lane (each window is encoded in its own task).
pub type EncoderFactory = Arc<dyn Fn() -> Box<dyn Encoder> + Send + Sync>;

/// What to export and how to encode it.
pub struct Plan {
    pub query: ContactsQuery,
    pub encoders: EncoderFactory,
    pub gzip: bool,
    /// Clean restarts allowed when the API no longer accepts the checkpointed cursor.
    pub max_restarts: u32,
    /// Cursor chains at once (`created_at` windows); only a fresh export is partitioned.
    pub partitions: Partitions,
}

#[derive(Debug, Clone)]
pub struct Outcome {
    pub position: Position,
    pub summary: SinkSummary,
    pub restarts: u32,
    pub total: Option<u64>,
    pub elapsed: Duration,
}

/// Runs the export from `start` (a checkpoint, or `Position::default()` for a fresh one) to the
/// last page. Pages already stored are never fetched again, except after a clean restart.
pub async fn run(
    client: Arc<ContactsClient>,
    plan: Plan,
    start: Position,
    sink: &mut dyn PageSink,
    progress: &mut Progress,
) -> Result<Outcome, ExportError> {
    let began = Instant::now();
    let mut at = start;
    let mut restarts = 0;
    let mut planned_lanes = None;
    'export: loop {
        if at.pages == 0 && at.next_cursor.is_none() {
            let windows = planner::plan(&client, &plan.query, plan.partitions).await?;
            if let Some(total) = windows.total {
                progress.set_total(total);
            }
            at.window = 0;
            at.windows = windows.boundaries;
            planned_lanes = Some(windows.lanes);
        }
        let queries: Vec<ContactsQuery> = (0..=at.windows.len())
            .map(|i| window_query(&plan.query, &at.windows, i))
            .collect();
        let (head, chain_start) = match (&at.next_cursor, at.pages) {
            // A checkpoint, or a producer's resume point (a cursor with nothing stored yet).
            (Some(cursor), _) => (at.window as usize, ChainStart::Cursor(cursor.clone())),
            (None, 0) => {
                let mut q = queries[0].clone();
                q.include_count = at.windows.is_empty();
                (0, ChainStart::First(q))
            }
            // Windows `0..=at.window` are stored; the next one starts, if there is one.
            (None, _) if (at.window as usize) < at.windows.len() => {
                let next = at.window as usize + 1;
                (next, ChainStart::First(queries[next].clone()))
            }
            (None, _) => break 'export, // every page is stored; only `finish` was missing
        };
        let lanes_at_once = match planned_lanes {
            _ if at.windows.is_empty() => 1,
            Some(n) => n,
            None => planner::lanes_for_resume(&client, plan.partitions),
        };
        let cfg = LaneConfig {
            client: client.clone(),
            encoders: plan.encoders.clone(),
            gzip: plan.gzip,
            lanes: lanes_at_once,
            budget: if lanes_at_once > 1 { LANE_BUDGET } else { 0 },
        };
        let mut lanes = Lanes::start(cfg, queries, head, chain_start, at.pages == 0);
        while let Some(result) = lanes.next().await {
            let chunk = match result {
                Ok(chunk) => chunk,
                Err(ExportError::Api(CcError::InvalidCursor { .. }))
                    if restarts < plan.max_restarts =>
                {
                    restarts += 1;
                    tracing::warn!(
                        restarts,
                        rows_dropped = at.rows,
                        "the API refused the cursor; restarting the export from the beginning"
                    );
                    drop(lanes);
                    sink.restart().await.map_err(ExportError::Sink)?;
                    at = Position::default();
                    progress.restarted();
                    continue 'export;
                }
                Err(ExportError::Api(CcError::InvalidCursor { .. })) => {
                    return Err(ExportError::TooManyRestarts { restarts });
                }
                Err(e) => return Err(e),
            };
            if let Some(total) = chunk.contacts_count.filter(|_| at.windows.is_empty()) {
                progress.set_total(total);
            }
            at = Position {
                next_cursor: chunk.next_cursor,
                rows: at.rows + chunk.rows as u64,
                pages: at.pages + 1,
                window: chunk.window as u32,
                windows: std::mem::take(&mut at.windows),
            };
            sink.write_page(&chunk.bytes, &at)
                .await
                .map_err(ExportError::Sink)?;
            progress.update(at.rows);
            crate::ops::metrics::contacts_exported(chunk.rows as u64);
            if at.fetch_complete() {
                break 'export;
            }
        }
        // Every lane hands out its last page or an error before it stops; anything else is a
        // bug or a panic, and finishing now would drop contacts.
        return Err(ExportError::FetcherStopped);
    }
    let summary = sink.finish(&at).await.map_err(ExportError::Sink)?;
    progress.finish(at.rows);
    Ok(Outcome {
        position: at,
        summary,
        restarts,
        total: progress.total(),
        elapsed: began.elapsed(),
    })
}
