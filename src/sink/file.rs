//! Local file sink for the one-shot `export`: append + fsync, the checkpoint holds the byte
//! offset, resume truncates to it. Writes go to `<out>.partial`, renamed to `<out>` when done,
//! so a reader never mistakes a half-written export for a finished one.

use std::fs::{self, File, OpenOptions};
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use async_trait::async_trait;

use super::{PageSink, Position, SinkSummary};
use crate::export::stage_cpu::{Stage, timed};
use crate::export::state::{ExportState, StateFile};

#[derive(Debug, thiserror::Error)]
pub enum FileSinkError {
    #[error("output {path}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "output {path} holds {actual} bytes but the checkpoint says {expected}: it was changed \
         outside cc-export; rerun with --restart"
    )]
    Shorter {
        path: PathBuf,
        expected: u64,
        actual: u64,
    },
}

/// Checkpoints at most this often. At the API's rate limit a page arrives every 100 ms or more,
/// so every page is still checkpointed; with the limit lifted (tests, benches) a checkpoint (an
/// fdatasync and a state file replaced with an fsync) per page would cost more CPU than the page.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(100);

pub struct FileSink {
    out: PathBuf,
    partial: PathBuf,
    file: File,
    /// Bytes written; the checkpoint (`state.bytes`) may be behind it by less than
    /// `CHECKPOINT_EVERY` of pages, which a resume cuts off and fetches again.
    offset: u64,
    checkpoint_every: Duration,
    last_checkpoint: Option<Instant>,
    state_file: StateFile,
    state: ExportState,
}

impl FileSink {
    /// Opens the partial output at the state's checkpointed offset, cutting off anything written
    /// after the last checkpoint.
    pub fn open(
        out: &Path,
        state_file: StateFile,
        state: ExportState,
    ) -> Result<Self, FileSinkError> {
        let partial = partial_path(out);
        let io = |source| FileSinkError::Io {
            path: partial.clone(),
            source,
        };
        if let Some(dir) = partial.parent().filter(|d| !d.as_os_str().is_empty()) {
            fs::create_dir_all(dir).map_err(io)?;
        }
        let mut file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&partial)
            .map_err(io)?;
        let actual = file.metadata().map_err(io)?.len();
        if actual < state.bytes {
            return Err(FileSinkError::Shorter {
                path: partial,
                expected: state.bytes,
                actual,
            });
        }
        file.set_len(state.bytes).map_err(io)?;
        file.seek(SeekFrom::Start(state.bytes)).map_err(io)?;
        Ok(Self {
            out: out.to_path_buf(),
            partial,
            file,
            offset: state.bytes,
            checkpoint_every: CHECKPOINT_EVERY,
            last_checkpoint: None,
            state_file,
            state,
        })
    }

    pub fn state(&self) -> &ExportState {
        &self.state
    }

    /// Checkpoints at most every `every` instead of `CHECKPOINT_EVERY`.
    pub fn with_checkpoint_every(mut self, every: Duration) -> Self {
        self.checkpoint_every = every;
        self
    }

    fn io(&self, source: std::io::Error) -> FileSinkError {
        FileSinkError::Io {
            path: self.partial.clone(),
            source,
        }
    }

    /// The chunk appended and, at most every `checkpoint_every`, made durable and counted.
    fn write_and_checkpoint(&mut self, chunk: &[u8], after: &Position) -> anyhow::Result<()> {
        self.file.write_all(chunk).map_err(|e| self.io(e))?;
        self.offset += chunk.len() as u64;
        if self
            .last_checkpoint
            .is_some_and(|at| at.elapsed() < self.checkpoint_every)
        {
            return Ok(());
        }
        // The bytes must be on disk before the checkpoint that counts them.
        self.file.sync_data().map_err(|e| self.io(e))?;
        self.state.record(after, self.offset);
        self.state_file.save_progress(&self.state)?;
        self.last_checkpoint = Some(Instant::now());
        Ok(())
    }
}

pub fn partial_path(out: &Path) -> PathBuf {
    with_suffix(out, ".partial")
}

/// `path` with `suffix` appended to its file name (`c.csv` → `c.csv.partial`): the files the
/// one-shot keeps beside its output.
pub fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(suffix);
    path.with_file_name(name)
}

#[async_trait]
impl PageSink for FileSink {
    async fn write_page(&mut self, chunk: &[u8], after: &Position) -> anyhow::Result<()> {
        timed(Stage::Write, || self.write_and_checkpoint(chunk, after))
    }

    async fn restart(&mut self) -> anyhow::Result<()> {
        self.file.set_len(0).map_err(|e| self.io(e))?;
        self.file.seek(SeekFrom::Start(0)).map_err(|e| self.io(e))?;
        self.file.sync_all().map_err(|e| self.io(e))?;
        self.offset = 0;
        self.last_checkpoint = None;
        self.state.restart();
        self.state_file.save(&self.state)?;
        Ok(())
    }

    async fn finish(&mut self, at: &Position) -> anyhow::Result<SinkSummary> {
        self.file.sync_all().map_err(|e| self.io(e))?;
        // Complete before the rename: killed between the two, the next run finds a complete state
        // and the whole partial, and renames it (`finish_rename`). The other order could leave the
        // output renamed and a state still pointing into the gone partial.
        self.state.record(at, self.offset);
        self.state.complete = true;
        self.state_file.save(&self.state)?;
        finish_rename(&self.out, &self.state).map_err(|e| self.io(e))?;
        Ok(SinkSummary {
            location: self.out.display().to_string(),
            bytes: self.offset,
        })
    }
}

/// The last step of a finished export: its partial output, when it is still there and holds
/// exactly the bytes of the complete `state`, becomes `out`. Nothing to do when it was renamed.
pub fn finish_rename(out: &Path, state: &ExportState) -> std::io::Result<()> {
    let partial = partial_path(out);
    if state.complete && fs::metadata(&partial).is_ok_and(|m| m.len() == state.bytes) {
        fs::rename(&partial, out)?;
        sync_parent(out);
    }
    Ok(())
}

/// Makes a rename durable; best effort, as some filesystems refuse to open directories.
pub(crate) fn sync_parent(path: &Path) {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
    } else if let Ok(d) = File::open(".") {
        let _ = d.sync_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sink(dir: &Path, every: Duration) -> FileSink {
        let state_file = StateFile::new(dir.join("c.csv.state.json"));
        let state = state_file
            .load()
            .unwrap()
            .unwrap_or_else(crate::export::state::tests::state);
        FileSink::open(&dir.join("c.csv"), state_file, state)
            .unwrap()
            .with_checkpoint_every(every)
    }

    fn at(page: u64) -> Position {
        Position {
            next_cursor: Some(format!("after-{page}")),
            rows: page * 2,
            pages: page,
            ..Position::default()
        }
    }

    fn saved(dir: &Path) -> ExportState {
        StateFile::new(dir.join("c.csv.state.json"))
            .load()
            .unwrap()
            .unwrap()
    }

    #[tokio::test]
    async fn checkpoints_at_most_once_per_interval_and_resume_cuts_what_came_after() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = sink(dir.path(), Duration::from_secs(3600));
        for page in 1..=3 {
            s.write_page(format!("row{page}\r\n").as_bytes(), &at(page))
                .await
                .unwrap();
        }
        // The first page is checkpointed at once; the next two fall inside the interval.
        let state = saved(dir.path());
        assert_eq!((state.pages, state.bytes), (1, 6));
        assert_eq!(state.next_cursor.as_deref(), Some("after-1"));
        assert_eq!(
            fs::metadata(partial_path(&dir.path().join("c.csv")))
                .unwrap()
                .len(),
            18
        );
        drop(s); // killed: pages 2 and 3 were written but never checkpointed

        let mut s = sink(dir.path(), Duration::ZERO);
        assert_eq!(
            fs::metadata(partial_path(&dir.path().join("c.csv")))
                .unwrap()
                .len(),
            6
        );
        s.write_page(b"row2\r\n", &at(2)).await.unwrap();
        assert_eq!(
            saved(dir.path()).pages,
            2,
            "no interval: every page is checkpointed"
        );
        s.write_page(b"row3\r\n", &at(3)).await.unwrap();
        s.finish(&at(3)).await.unwrap();
        assert_eq!(
            fs::read_to_string(dir.path().join("c.csv")).unwrap(),
            "row1\r\nrow2\r\nrow3\r\n"
        );
        let done = saved(dir.path());
        assert!(done.complete);
        assert_eq!((done.pages, done.bytes), (3, 18));
    }

    #[tokio::test]
    async fn a_complete_state_with_its_whole_partial_is_renamed_by_the_next_run() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("c.csv");
        let mut s = sink(dir.path(), Duration::ZERO);
        s.write_page(b"row1\r\n", &at(1)).await.unwrap();
        // Killed after the state said complete, before the rename.
        let mut state = saved(dir.path());
        state.complete = true;
        drop(s);
        let mut other = state.clone();
        other.bytes += 1; // a partial that is not the complete output's is left alone
        finish_rename(&out, &other).unwrap();
        assert!(!out.exists());
        finish_rename(&out, &state).unwrap();
        assert_eq!(fs::read_to_string(&out).unwrap(), "row1\r\n");
        assert!(!partial_path(&out).exists());
        finish_rename(&out, &state).unwrap(); // renamed already: nothing to do
        assert_eq!(fs::read_to_string(&out).unwrap(), "row1\r\n");
    }
}
