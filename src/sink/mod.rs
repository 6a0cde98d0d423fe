//! Where encoded pages go. A sink owns the durability boundary: it decides when bytes are safe
//! and records the checkpoint (cursor + rows) together with them, never before.

pub mod file;

use async_trait::async_trait;

pub use file::{FileSink, FileSinkError};

/// How far an export has come once a chunk is stored: what a checkpoint records.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Position {
    /// The cursor that follows the last contact stored; `None` once the last page is stored.
    pub next_cursor: Option<String>,
    pub rows: u64,
    pub pages: u64,
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
