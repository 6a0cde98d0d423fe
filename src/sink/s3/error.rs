//! What the S3 sink reports, in the shapes callers match on (the worker decides between
//! "retry later" and "start over" from these).

use std::error::Error as _;

use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};

#[derive(Debug, thiserror::Error)]
pub enum S3SinkError {
    /// A request failed after the client's retries (or at once, when not retryable).
    #[error("S3 {op} on s3://{bucket}/{key} failed: {detail}")]
    Request {
        op: &'static str,
        bucket: String,
        key: String,
        /// The service's error code (`NoSuchBucket`, `AccessDenied`, ...), when it gave one.
        code: Option<String>,
        detail: String,
    },
    /// The recorded multipart upload is gone (aborted, or expired by a lifecycle rule) and the
    /// object was not completed from it: the export has to start over.
    #[error(
        "the multipart upload of s3://{bucket}/{key} recorded in the ledger no longer exists \
         (aborted or expired) and the object was not completed from it; the export must start over"
    )]
    UploadGone { bucket: String, key: String },
    /// The key holds an object another export wrote.
    #[error(
        "s3://{bucket}/{key} exists but was written by another export (job-id {found:?}, this is \
         {expected})"
    )]
    ForeignObject {
        bucket: String,
        key: String,
        expected: String,
        found: Option<String>,
    },
    #[error("the part ledger is inconsistent: {0}")]
    LedgerInconsistent(String),
    #[error("the export would need more than {max} parts", max = super::MAX_PARTS)]
    TooManyParts,
    #[error("the part ledger")]
    Ledger(#[source] anyhow::Error),
    /// A part upload failed mid-way, so the buffered pages are gone: reopen from the ledger.
    #[error("an earlier upload of this sink failed; reopen it from the ledger and resume")]
    Poisoned,
}

impl S3SinkError {
    pub(crate) fn request<E>(
        op: &'static str,
        bucket: &str,
        key: &str,
        err: SdkError<E, HttpResponse>,
    ) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        S3SinkError::Request {
            op,
            bucket: bucket.to_owned(),
            key: key.to_owned(),
            code: error_code(&err).map(str::to_owned),
            detail: describe(&err),
        }
    }

    /// Worth another try later (the server or the network failed), as opposed to a refusal.
    pub fn is_transient(&self) -> bool {
        match self {
            S3SinkError::Request { code, .. } => !matches!(
                code.as_deref(),
                Some(
                    "AccessDenied"
                        | "NoSuchBucket"
                        | "InvalidAccessKeyId"
                        | "SignatureDoesNotMatch"
                        | "InvalidBucketName"
                        | "EntityTooSmall"
                        | "InvalidPart"
                        | "InvalidPartOrder"
                )
            ),
            S3SinkError::Ledger(_) => true,
            _ => false,
        }
    }
}

/// The service's error code, when the failure came from the service.
pub(crate) fn error_code<E: ProvideErrorMetadata, R>(err: &SdkError<E, R>) -> Option<&str> {
    err.as_service_error().and_then(|e| e.code())
}

/// One line: HTTP status, the service's code and message, or the cause chain (never the raw
/// response, which the SDK's own rendering includes).
fn describe<E>(err: &SdkError<E, HttpResponse>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let status = err
        .raw_response()
        .map(|r| format!("HTTP {}: ", r.status().as_u16()))
        .unwrap_or_default();
    if let Some(code) = error_code(err) {
        let message = err
            .as_service_error()
            .and_then(|e| e.message())
            .unwrap_or("");
        return format!("{status}{code}: {message}");
    }
    let mut line = err.to_string();
    let mut cause = err.source();
    while let Some(c) = cause {
        line.push_str(": ");
        line.push_str(&c.to_string());
        cause = c.source();
    }
    format!("{status}{line}")
}
