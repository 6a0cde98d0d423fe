//! `S3Sink`: pages into parts of a multipart upload, one checkpoint per uploaded part.
//!
//! Part boundaries fall on page boundaries and the checkpoint recorded with a part is the
//! position after the last page inside it, so pages still in the buffer when a run dies are
//! fetched again and the resumed object is byte-identical to an uninterrupted one.

use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_s3::Client;
use bytes::BytesMut;

use super::multipart::{self, Completion};
use super::{MAX_PARTS, S3Location, S3SinkError, part_threshold};
use crate::export::stage_cpu::{Stage, timed};
use crate::sink::{PageSink, PartLedger, PartRecord, Position, SinkSummary};

/// How the sink writes its object.
#[derive(Debug, Clone)]
pub struct S3SinkOptions {
    /// Bytes per part (S3 wants at least 5 MiB for every part but the last). Grows with the
    /// part number, see `part_threshold`, so 10,000 parts reach far.
    pub part_size: u64,
    /// Stored as the object's `job-id` metadata; proves a completed object is this export's.
    pub job_id: String,
    pub content_type: Option<String>,
}

pub struct S3Sink {
    client: Client,
    loc: S3Location,
    opts: S3SinkOptions,
    ledger: Arc<dyn PartLedger>,
    upload_id: Option<String>,
    /// Recorded parts, as the ledger holds them.
    parts: Vec<PartRecord>,
    stored_bytes: u64,
    stored_rows: u64,
    /// Pages not in any part yet: never checkpointed.
    buf: BytesMut,
    poisoned: bool,
    finished: Option<SinkSummary>,
}

impl S3Sink {
    /// Opens the sink where the ledger left it: its upload, its parts, nothing buffered. The
    /// caller resumes the pipeline from the position recorded with the last part.
    pub async fn open(
        client: Client,
        loc: S3Location,
        opts: S3SinkOptions,
        ledger: Arc<dyn PartLedger>,
    ) -> Result<Self, S3SinkError> {
        let state = ledger.load().await.map_err(S3SinkError::Ledger)?;
        for (i, p) in state.parts.iter().enumerate() {
            if p.part_number != i as i32 + 1 {
                return Err(S3SinkError::LedgerInconsistent(format!(
                    "part {} where part {} was expected",
                    p.part_number,
                    i + 1
                )));
            }
        }
        if state.upload_id.is_none() && !state.parts.is_empty() {
            return Err(S3SinkError::LedgerInconsistent(
                "parts without an upload id".into(),
            ));
        }
        Ok(Self {
            client,
            loc,
            stored_bytes: state.parts.iter().map(|p| p.bytes).sum(),
            stored_rows: state.parts.iter().map(|p| p.rows).sum(),
            upload_id: state.upload_id,
            parts: state.parts,
            buf: BytesMut::with_capacity(capacity_for(opts.part_size)),
            opts,
            ledger,
            poisoned: false,
            finished: None,
        })
    }

    pub fn location(&self) -> &S3Location {
        &self.loc
    }

    pub fn upload_id(&self) -> Option<&str> {
        self.upload_id.as_deref()
    }

    /// Output bytes inside recorded parts.
    pub fn stored_bytes(&self) -> u64 {
        self.stored_bytes
    }

    /// Bytes buffered for the next part (not checkpointed).
    pub fn buffered_bytes(&self) -> usize {
        self.buf.len()
    }

    /// Gives up on the object (a cancelled or failed job): aborts the upload, forgets it in the
    /// ledger and drops the buffer. Idempotent.
    pub async fn abort(&mut self) -> Result<(), S3SinkError> {
        if let Some(id) = self.upload_id.take() {
            multipart::abort_upload(&self.client, &self.loc.bucket, &self.loc.key, &id).await?;
        }
        self.ledger.reset().await.map_err(S3SinkError::Ledger)?;
        self.parts.clear();
        self.stored_bytes = 0;
        self.stored_rows = 0;
        self.buf = BytesMut::new();
        self.poisoned = false;
        self.finished = None;
        Ok(())
    }

    fn check_usable(&self) -> Result<(), S3SinkError> {
        if self.poisoned {
            Err(S3SinkError::Poisoned)
        } else {
            Ok(())
        }
    }

    async fn ensure_upload(&mut self) -> Result<String, S3SinkError> {
        if let Some(id) = &self.upload_id {
            return Ok(id.clone());
        }
        let id = multipart::create(
            &self.client,
            &self.loc,
            &self.opts.job_id,
            self.opts.content_type.as_deref(),
        )
        .await?;
        // A crash before this line leaves an orphan upload: the bucket's lifecycle rule for
        // incomplete uploads (or a sweeper with `abort_upload`) removes it.
        self.ledger
            .begin_upload(&id)
            .await
            .map_err(S3SinkError::Ledger)?;
        tracing::debug!(object = %self.loc, "multipart upload created");
        self.upload_id = Some(id.clone());
        Ok(id)
    }

    /// Uploads the buffer as the next part and records it with `after`.
    async fn upload_buffer(&mut self, after: &Position) -> Result<(), S3SinkError> {
        let part_number = self.parts.len() as i32 + 1;
        if part_number as usize > MAX_PARTS {
            return Err(S3SinkError::TooManyParts);
        }
        let upload_id = self.ensure_upload().await?;
        // From here until the ledger has the part, a failure loses buffered pages: poison.
        self.poisoned = true;
        let body = std::mem::take(&mut self.buf).freeze();
        let bytes = body.len() as u64;
        let etag =
            match multipart::upload_part(&self.client, &self.loc, &upload_id, part_number, body)
                .await
            {
                Ok(etag) => etag,
                Err(e) => return Err(self.explain(e, &upload_id).await),
            };
        let part = PartRecord {
            part_number,
            etag,
            rows: after.rows.saturating_sub(self.stored_rows),
            bytes,
        };
        let total = self.stored_bytes + bytes;
        self.ledger
            .record_part(&part, after, total)
            .await
            .map_err(S3SinkError::Ledger)?;
        tracing::debug!(object = %self.loc, part_number, bytes, rows = part.rows, "part stored");
        self.stored_bytes = total;
        self.stored_rows = after.rows;
        self.parts.push(part);
        self.poisoned = false;
        self.buf = BytesMut::with_capacity(capacity_for(self.next_threshold()));
        Ok(())
    }

    /// A failed request on an upload that no longer exists is `UploadGone`, whatever status the
    /// server chose (S3: 404 NoSuchUpload; moto 5.2: 500).
    async fn explain(&self, err: S3SinkError, upload_id: &str) -> S3SinkError {
        if matches!(err, S3SinkError::Request { .. })
            && matches!(
                multipart::upload_exists(&self.client, &self.loc, upload_id).await,
                Ok(false)
            )
        {
            return S3SinkError::UploadGone {
                bucket: self.loc.bucket.clone(),
                key: self.loc.key.clone(),
            };
        }
        err
    }

    fn next_threshold(&self) -> u64 {
        part_threshold(self.opts.part_size, self.parts.len() as i32 + 1)
    }

    async fn finish_multipart(&mut self, at: &Position) -> Result<(), S3SinkError> {
        if !self.buf.is_empty() {
            self.upload_buffer(at).await?;
        }
        // The ledger is the truth about which parts make the object.
        let state = self.ledger.load().await.map_err(S3SinkError::Ledger)?;
        if state.upload_id != self.upload_id || state.parts != self.parts {
            return Err(S3SinkError::LedgerInconsistent(
                "the ledger changed under the sink".into(),
            ));
        }
        let upload_id = self.upload_id.clone().expect("multipart has an upload");
        let completion =
            match multipart::complete(&self.client, &self.loc, &upload_id, &self.parts).await {
                Ok(c) => c,
                Err(e) => match self.explain(e, &upload_id).await {
                    S3SinkError::UploadGone { .. } => Completion::NoSuchUpload,
                    e => return Err(e),
                },
            };
        match completion {
            Completion::Completed => Ok(()),
            // Completed by a run that died before anyone recorded it, or aborted: the object
            // tells which.
            Completion::NoSuchUpload | Completion::Unreadable => {
                match multipart::head(&self.client, &self.loc).await? {
                    Some(o)
                        if o.job_id.as_deref() == Some(&self.opts.job_id)
                            && o.bytes == self.stored_bytes =>
                    {
                        tracing::info!(object = %self.loc, "the object is complete (checked with HeadObject)");
                        Ok(())
                    }
                    Some(o) if o.job_id.as_deref() != Some(&self.opts.job_id) => {
                        Err(S3SinkError::ForeignObject {
                            bucket: self.loc.bucket.clone(),
                            key: self.loc.key.clone(),
                            expected: self.opts.job_id.clone(),
                            found: o.job_id,
                        })
                    }
                    _ => Err(S3SinkError::UploadGone {
                        bucket: self.loc.bucket.clone(),
                        key: self.loc.key.clone(),
                    }),
                }
            }
        }
    }
}

#[async_trait]
impl PageSink for S3Sink {
    async fn write_page(&mut self, chunk: &[u8], after: &Position) -> anyhow::Result<()> {
        self.check_usable()?;
        // The upload's own CPU (the SDK, TLS) runs on other tasks: not a stage of ours.
        timed(Stage::Write, || self.buf.extend_from_slice(chunk));
        if self.buf.len() as u64 >= self.next_threshold() {
            self.upload_buffer(after).await?;
        }
        Ok(())
    }

    async fn restart(&mut self) -> anyhow::Result<()> {
        self.abort().await?;
        Ok(())
    }

    async fn finish(&mut self, at: &Position) -> anyhow::Result<SinkSummary> {
        if let Some(done) = &self.finished {
            return Ok(done.clone());
        }
        self.check_usable()?;
        if self.parts.is_empty() {
            // Everything fits one request. An upload without parts (created, then the run died)
            // is dropped first.
            if let Some(id) = self.upload_id.take() {
                multipart::abort_upload(&self.client, &self.loc.bucket, &self.loc.key, &id).await?;
                self.ledger.reset().await.map_err(S3SinkError::Ledger)?;
            }
            self.poisoned = true;
            let body = std::mem::take(&mut self.buf).freeze();
            self.stored_bytes = body.len() as u64;
            multipart::put_object(
                &self.client,
                &self.loc,
                body,
                &self.opts.job_id,
                self.opts.content_type.as_deref(),
                at.rows,
            )
            .await?;
            self.poisoned = false;
        } else {
            self.finish_multipart(at).await?;
            // Set again on every finish, so a run that died between Complete and here heals.
            multipart::tag_rows(&self.client, &self.loc, at.rows).await?;
        }
        let summary = SinkSummary {
            location: self.loc.to_string(),
            bytes: self.stored_bytes,
        };
        self.finished = Some(summary.clone());
        Ok(summary)
    }
}

/// Room for a full part plus the page that fills it, so the buffer is not reallocated (and
/// briefly doubled) at the threshold.
fn capacity_for(threshold: u64) -> usize {
    (threshold + threshold / 4) as usize
}
