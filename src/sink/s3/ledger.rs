//! `StateFileLedger`: the one-shot command's part ledger, kept in its state file. Each change is
//! one atomic replacement of the file, so a part and the position after it land together.

use std::sync::Mutex;

use async_trait::async_trait;

use crate::export::state::{ExportState, StateError, StateFile};
use crate::sink::{LedgerState, PartLedger, PartRecord, Position};

pub struct StateFileLedger {
    file: StateFile,
    state: Mutex<ExportState>,
}

impl StateFileLedger {
    pub fn new(file: StateFile, state: ExportState) -> Self {
        Self {
            file,
            state: Mutex::new(state),
        }
    }

    /// The checkpoint as last saved.
    pub fn snapshot(&self) -> ExportState {
        self.lock().clone()
    }

    /// The object is complete: nothing is left to resume.
    pub fn mark_complete(&self, at: &Position) -> Result<(), StateError> {
        self.update(|s| {
            let bytes = s.bytes.max(s.parts.iter().map(|p| p.bytes).sum());
            s.record(at, bytes);
            s.complete = true;
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ExportState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Applies `change` to a copy, saves it, and only then makes it the state in memory.
    fn update(&self, change: impl FnOnce(&mut ExportState)) -> Result<(), StateError> {
        let mut guard = self.lock();
        let mut next = guard.clone();
        change(&mut next);
        self.file.save(&next)?;
        *guard = next;
        Ok(())
    }
}

#[async_trait]
impl PartLedger for StateFileLedger {
    async fn load(&self) -> anyhow::Result<LedgerState> {
        let s = self.lock();
        Ok(LedgerState {
            upload_id: s.upload_id.clone(),
            parts: s.parts.clone(),
        })
    }

    async fn begin_upload(&self, upload_id: &str) -> anyhow::Result<()> {
        self.update(|s| {
            s.upload_id = Some(upload_id.to_owned());
            s.parts.clear();
        })?;
        Ok(())
    }

    async fn record_part(
        &self,
        part: &PartRecord,
        after: &Position,
        bytes_total: u64,
    ) -> anyhow::Result<()> {
        self.update(|s| {
            // A part uploaded again after a crash replaces the one the ledger may not have had.
            s.parts.retain(|p| p.part_number < part.part_number);
            s.parts.push(part.clone());
            s.record(after, bytes_total);
        })?;
        Ok(())
    }

    async fn reset(&self) -> anyhow::Result<()> {
        self.update(ExportState::restart)?;
        Ok(())
    }
}
