//! Where a one-shot export goes (a local file or an S3 object) and the sink that writes it.

use std::path::PathBuf;
use std::sync::Arc;

use crate::encode::Format;
use crate::export::{ExportSpec, ExportState};
use crate::sink::s3::{self, S3Location, S3Sink, StateFileLedger};
use crate::sink::{FileSink, PageSink};

/// Where the export goes.
pub(super) enum Target {
    File(PathBuf),
    S3 {
        loc: S3Location,
        client: aws_sdk_s3::Client,
    },
}

impl Target {
    /// The local path other files (state, tokens) are named after.
    pub(super) fn local_base(&self) -> PathBuf {
        match self {
            Target::File(out) => out.clone(),
            Target::S3 { loc, .. } => PathBuf::from(loc.basename()),
        }
    }

    /// What a checkpoint records as its output (file exports record none, as they always did).
    pub(super) fn recorded_output(&self) -> Option<String> {
        match self {
            Target::File(_) => None,
            Target::S3 { loc, .. } => Some(loc.to_string()),
        }
    }

    pub(super) fn display(&self) -> String {
        match self {
            Target::File(out) => out.display().to_string(),
            Target::S3 { loc, .. } => loc.to_string(),
        }
    }

    /// The output a completed checkpoint describes is still there (for a file, after ending the
    /// rename of a run killed between its complete checkpoint and the rename).
    pub(super) async fn holds(&self, state: &ExportState) -> anyhow::Result<bool> {
        Ok(match self {
            Target::File(out) => {
                // A run killed between marking the export complete and the rename ends it here.
                crate::sink::file::finish_rename(out, state)?;
                out.exists()
            }
            Target::S3 { loc, client } => s3::multipart::head(client, loc)
                .await?
                .is_some_and(|o| o.job_id.is_some() && o.job_id == state.job_id),
        })
    }
}

/// The sink behind the pipeline, and where its checkpoint can be read.
pub(super) enum Sink {
    File(Box<FileSink>),
    S3(Box<S3Sink>, Arc<StateFileLedger>),
}

impl Sink {
    pub(super) fn as_dyn(&mut self) -> &mut dyn PageSink {
        match self {
            Sink::File(s) => s.as_mut(),
            Sink::S3(s, _) => s.as_mut(),
        }
    }

    pub(super) fn checkpointed_rows(&self) -> u64 {
        match self {
            Sink::File(s) => s.state().rows,
            Sink::S3(_, ledger) => ledger.snapshot().rows,
        }
    }
}

/// `Content-Type` of an object-store export.
pub(super) fn content_type(spec: &ExportSpec) -> &'static str {
    match (spec.gzip, spec.format) {
        (true, _) => "application/gzip",
        (false, Format::Csv) => "text/csv; charset=utf-8",
        (false, Format::Ndjson) => "application/x-ndjson",
    }
}
