//! Where encoded pages go. A sink owns the durability boundary: it decides when bytes are safe
//! and records the checkpoint (cursor + rows) together with them, never before.

pub mod file;
pub mod s3;

use async_trait::async_trait;

pub use file::{FileSink, FileSinkError};
pub use s3::{S3Location, S3Sink, S3SinkError, S3SinkOptions, StateFileLedger};

/// How far an export has come once a chunk is stored: what a checkpoint records.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Position {
    /// The cursor that follows the last contact stored; `None` once the last page is stored.
    pub next_cursor: Option<String>,
    pub rows: u64,
    pub pages: u64,
    /// The `created_at` window `next_cursor` belongs to (0 when the export is one chain). With
    /// `next_cursor` `None` and pages stored, windows `0..=window` are complete.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub window: u32,
    /// The partition plan's boundaries (`export::windows`); empty for one chain. Kept with every
    /// checkpoint so a resumed export walks the same windows.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub windows: Vec<String>,
}

impl Position {
    /// Every page of every window is stored: only making the output final is left.
    pub fn fetch_complete(&self) -> bool {
        self.pages > 0 && self.next_cursor.is_none() && self.window as usize >= self.windows.len()
    }
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// One uploaded part of a multipart upload, as the ledger records it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PartRecord {
    pub part_number: i32,
    pub etag: String,
    /// Contacts inside this part.
    pub rows: u64,
    pub bytes: u64,
}

/// What the ledger holds for an object-store export.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LedgerState {
    pub upload_id: Option<String>,
    /// Ascending part numbers, 1..=n with no gaps.
    pub parts: Vec<PartRecord>,
}

/// Where an object-store sink keeps its upload id and parts: the job row in Postgres (worker) or
/// the state file (one-shot `--out s3://`). `record_part` is the checkpoint invariant: the part
/// and the position after it are stored together, in one transaction, or not at all.
#[async_trait]
pub trait PartLedger: Send + Sync {
    async fn load(&self) -> anyhow::Result<LedgerState>;
    /// A multipart upload was created for this export.
    async fn begin_upload(&self, upload_id: &str) -> anyhow::Result<()>;
    /// `bytes_total`: output bytes in every recorded part, this one included.
    async fn record_part(
        &self,
        part: &PartRecord,
        after: &Position,
        bytes_total: u64,
    ) -> anyhow::Result<()>;
    /// The export starts over: forget the upload (already aborted) and its parts.
    async fn reset(&self) -> anyhow::Result<()>;
}

/// What a finished sink produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SinkSummary {
    pub location: String,
    pub bytes: u64,
}

#[async_trait]
pub trait PageSink: Send {
    /// Stores one page's encoded bytes; `after` is the position once they are stored.
    async fn write_page(&mut self, chunk: &[u8], after: &Position) -> anyhow::Result<()>;
    /// Drops everything written so far (the export starts over, e.g. after a cursor expired).
    async fn restart(&mut self) -> anyhow::Result<()>;
    /// Every page is stored: make the output whole and final.
    async fn finish(&mut self, at: &Position) -> anyhow::Result<SinkSummary>;
}
