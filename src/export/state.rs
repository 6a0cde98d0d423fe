//! The one-shot export's checkpoint, a JSON file next to the output, replaced atomically
//! (write temp, fsync, rename, fsync dir) so a kill at any instant leaves the old or the new one.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::spec::ExportSpec;
use crate::encode::Column;
use crate::sink::file::with_suffix;
use crate::sink::{PartRecord, Position};

const VERSION: u32 = 1;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ExportState {
    pub version: u32,
    pub spec: ExportSpec,
    /// Resolved when the export started, so a resumed export writes the same columns.
    pub columns: Vec<Column>,
    pub next_cursor: Option<String>,
    pub rows: u64,
    pub pages: u64,
    /// Partitioned exports: the window `next_cursor` belongs to and the plan's boundaries
    /// (see `sink::Position`); absent for one chain.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub window: u32,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub windows: Vec<String>,
    /// Byte offset of the output up to which everything is checkpointed.
    pub bytes: u64,
    pub total: Option<u64>,
    /// Times the export started over because the API refused its cursor.
    pub restarts: u32,
    pub complete: bool,
    #[serde(with = "time::serde::rfc3339")]
    pub started_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    /// Object-store exports (`--out s3://`) only, below; absent from file exports' checkpoints.
    /// Where the object goes, so a checkpoint is never resumed into another object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<String>,
    /// Stored as the object's `job-id` metadata: proves a completed object is this export's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_id: Option<String>,
    /// The multipart upload in progress.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upload_id: Option<String>,
    /// Its uploaded parts, ascending; `bytes`/`rows`/`next_cursor` are the position after the last.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parts: Vec<PartRecord>,
}

impl ExportState {
    pub fn new(spec: ExportSpec, columns: Vec<Column>) -> Self {
        let now = OffsetDateTime::now_utc();
        Self {
            version: VERSION,
            spec,
            columns,
            next_cursor: None,
            rows: 0,
            pages: 0,
            window: 0,
            windows: Vec::new(),
            bytes: 0,
            total: None,
            restarts: 0,
            complete: false,
            started_at: now,
            updated_at: now,
            output: None,
            job_id: None,
            upload_id: None,
            parts: Vec::new(),
        }
    }

    pub fn position(&self) -> Position {
        Position {
            next_cursor: self.next_cursor.clone(),
            rows: self.rows,
            pages: self.pages,
            window: self.window,
            windows: self.windows.clone(),
        }
    }

    pub fn record(&mut self, at: &Position, bytes: u64) {
        self.next_cursor = at.next_cursor.clone();
        self.rows = at.rows;
        self.pages = at.pages;
        self.window = at.window;
        self.windows.clone_from(&at.windows);
        self.bytes = bytes;
        self.updated_at = OffsetDateTime::now_utc();
    }

    pub fn restart(&mut self) {
        self.record(&Position::default(), 0);
        self.upload_id = None;
        self.parts.clear();
        self.restarts += 1;
    }
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("state file {path}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("state file {path} is not a cc-export checkpoint (remove it or rerun with --restart)")]
    Corrupt {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error(
        "state file {path} has version {found}, this cc-export writes {VERSION}; rerun with --restart"
    )]
    Version { path: PathBuf, found: u32 },
}

#[derive(Debug, Clone)]
pub struct StateFile {
    path: PathBuf,
}

impl StateFile {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }

    /// `<out>.state.json`, the default.
    pub fn beside(out: &Path) -> Self {
        Self::new(with_suffix(out, ".state.json"))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn load(&self) -> Result<Option<ExportState>, StateError> {
        let text = match fs::read(&self.path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(StateError::Io {
                    path: self.path.clone(),
                    source,
                });
            }
        };
        let probe: serde_json::Value =
            serde_json::from_slice(&text).map_err(|source| StateError::Corrupt {
                path: self.path.clone(),
                source,
            })?;
        let found = probe.get("version").and_then(|v| v.as_u64()).unwrap_or(0) as u32;
        if found != VERSION {
            return Err(StateError::Version {
                path: self.path.clone(),
                found,
            });
        }
        serde_json::from_value(probe)
            .map(Some)
            .map_err(|source| StateError::Corrupt {
                path: self.path.clone(),
                source,
            })
    }

    /// Replaces the state file, durably: a crash after this returns leaves this state.
    pub fn save(&self, state: &ExportState) -> Result<(), StateError> {
        self.replace(state, true)
    }

    /// Like [`Self::save`] but without the directory fsync that makes the rename itself durable:
    /// for the file sink's checkpoints (after a page, at most every 100 ms). A crash may then
    /// leave the previous checkpoint, which is still a valid resume point (the output only grows between the two;
    /// resume truncates it to that checkpoint's offset and fetches the pages after it again).
    /// The directory fsync was ~3 % of a CSV export's CPU samples in a profile, once per page.
    pub fn save_progress(&self, state: &ExportState) -> Result<(), StateError> {
        self.replace(state, false)
    }

    fn replace(&self, state: &ExportState, durable_rename: bool) -> Result<(), StateError> {
        let io = |source| StateError::Io {
            path: self.path.clone(),
            source,
        };
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            fs::create_dir_all(dir).map_err(io)?;
        }
        let tmp = with_suffix(&self.path, ".tmp");
        let body = serde_json::to_vec_pretty(state).expect("state serializes");
        let mut f = fs::File::create(&tmp).map_err(io)?;
        f.write_all(&body).map_err(io)?;
        f.sync_all().map_err(io)?;
        fs::rename(&tmp, &self.path).map_err(io)?;
        if durable_rename {
            crate::sink::file::sync_parent(&self.path);
        }
        Ok(())
    }

    pub fn remove(&self) -> Result<(), StateError> {
        match fs::remove_file(&self.path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(source) => Err(StateError::Io {
                path: self.path.clone(),
                source,
            }),
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::cc::ContactsQuery;
    use crate::encode::Format;

    /// A fresh CSV export's state for account `a`, default query and columns (tests of this
    /// module and of the file sink).
    pub(crate) fn state() -> ExportState {
        ExportState::new(
            ExportSpec {
                account_id: "a".into(),
                query: ContactsQuery::default(),
                format: Format::Csv,
                gzip: false,
                columns: None,
                escape_formulas: false,
            },
            Vec::new(),
        )
    }

    #[test]
    fn file_checkpoints_keep_their_shape_and_load_without_the_upload_fields() {
        let dir = tempfile::tempdir().unwrap();
        let file = StateFile::new(dir.path().join("s.json"));
        let s = state();
        file.save(&s).unwrap();
        let text = std::fs::read_to_string(file.path()).unwrap();
        for field in ["upload_id", "parts", "job_id", "output"] {
            assert!(!text.contains(&format!("\"{field}\"")), "{field} in {text}");
        }
        assert_eq!(file.load().unwrap(), Some(s));
    }

    #[test]
    fn upload_fields_round_trip_and_restart_forgets_them() {
        let dir = tempfile::tempdir().unwrap();
        let file = StateFile::new(dir.path().join("s.json"));
        let mut s = state();
        s.output = Some("s3://b/k".into());
        s.job_id = Some("j".into());
        s.upload_id = Some("u".into());
        s.parts.push(PartRecord {
            part_number: 1,
            etag: "\"e\"".into(),
            rows: 5,
            bytes: 10,
        });
        file.save(&s).unwrap();
        assert_eq!(file.load().unwrap().as_ref(), Some(&s));
        s.restart();
        assert_eq!((s.upload_id, s.parts.len(), s.bytes), (None, 0, 0));
    }
}
