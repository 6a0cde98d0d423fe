//! The export loop: pages → encoder → (gzip member) → sink, a checkpoint after each page.
//! The same loop serves the one-shot command (file sink) and the worker (object store sink).

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::fetch::{ChainStart, PageStream};
use super::progress::Progress;
use crate::cc::{CcError, ContactsClient, ContactsQuery};
use crate::encode::{EncodeError, Encoder, gzip_member};
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

/// What to export and how to encode it.
pub struct Plan {
    pub query: ContactsQuery,
    pub encoder: Box<dyn Encoder>,
    pub gzip: bool,
    /// Clean restarts allowed when the API no longer accepts the checkpointed cursor.
    pub max_restarts: u32,
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
    mut plan: Plan,
    start: Position,
    sink: &mut dyn PageSink,
    progress: &mut Progress,
) -> Result<Outcome, ExportError> {
    let began = Instant::now();
    let mut at = start;
    let mut restarts = 0;
    let mut plain = Vec::with_capacity(1 << 20);
    let mut packed = Vec::new();
    'chain: loop {
        let chain_start = match (&at.next_cursor, at.pages) {
            // A checkpoint, or a producer's resume point (a cursor with nothing stored yet).
            (Some(cursor), _) => ChainStart::Cursor(cursor.clone()),
            (None, 0) => {
                let mut q = plan.query.clone();
                q.include_count = true;
                ChainStart::First(q)
            }
            (None, _) => break 'chain, // every page is stored; only `finish` was missing
        };
        let mut pages = PageStream::spawn(client.clone(), chain_start);
        while let Some(result) = pages.next().await {
            let page = match result {
                Ok(page) => page,
                Err(CcError::InvalidCursor { .. }) if restarts < plan.max_restarts => {
                    restarts += 1;
                    tracing::warn!(
                        restarts,
                        rows_dropped = at.rows,
                        "the API refused the cursor; restarting the export from the beginning"
                    );
                    sink.restart().await.map_err(ExportError::Sink)?;
                    at = Position::default();
                    progress.restarted();
                    continue 'chain;
                }
                Err(CcError::InvalidCursor { .. }) => {
                    return Err(ExportError::TooManyRestarts { restarts });
                }
                Err(e) => return Err(e.into()),
            };
            if let Some(total) = page.contacts_count {
                progress.set_total(total);
            }
            plain.clear();
            if at.pages == 0 {
                plan.encoder.header(&mut plain);
            }
            let rows = plan.encoder.encode_page(&page.contacts, &mut plain)?;
            let chunk = if plan.gzip {
                packed.clear();
                gzip_member(&plain, &mut packed)
                    .map_err(|e| ExportError::Encode(EncodeError::Io(e)))?;
                &packed
            } else {
                &plain
            };
            at = Position {
                next_cursor: page.next_cursor.clone(),
                rows: at.rows + rows as u64,
                pages: at.pages + 1,
            };
            sink.write_page(chunk, &at)
                .await
                .map_err(ExportError::Sink)?;
            progress.update(at.rows);
            if page.next_href.is_none() {
                // A last page whose link is absent but whose cursor was set would loop; trust the link.
                at.next_cursor = None;
                break 'chain;
            }
        }
        // The fetcher hands out the last page or an error before it stops; anything else is a bug
        // or a panic, and finishing now would drop contacts.
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
