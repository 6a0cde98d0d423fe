//! The S3 requests the sink makes, one function each, with the error shapes the sink needs
//! (`NoSuchUpload` told apart from other failures).

use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart, Tag, Tagging};
use bytes::Bytes;

use super::S3Location;
use super::error::{S3SinkError, error_code};
use crate::sink::PartRecord;

/// The user-defined metadata key that names the export that wrote an object.
pub const JOB_ID_METADATA: &str = "job-id";
/// The object tag that holds the number of contacts in the object.
pub const ROWS_TAG: &str = "rows";

pub(super) async fn create(
    client: &Client,
    loc: &S3Location,
    job_id: &str,
    content_type: Option<&str>,
) -> Result<String, S3SinkError> {
    let out = client
        .create_multipart_upload()
        .bucket(&loc.bucket)
        .key(&loc.key)
        .metadata(JOB_ID_METADATA, job_id)
        .set_content_type(content_type.map(str::to_owned))
        .send()
        .await
        .map_err(|e| S3SinkError::request("CreateMultipartUpload", &loc.bucket, &loc.key, e))?;
    out.upload_id.ok_or_else(|| S3SinkError::Request {
        op: "CreateMultipartUpload",
        bucket: loc.bucket.clone(),
        key: loc.key.clone(),
        code: None,
        detail: "the answer has no upload id".into(),
    })
}

/// Uploads one part; the answer is its ETag. The body is cloned cheaply on each retry.
pub(super) async fn upload_part(
    client: &Client,
    loc: &S3Location,
    upload_id: &str,
    part_number: i32,
    body: Bytes,
) -> Result<String, S3SinkError> {
    let (started, bytes) = (std::time::Instant::now(), body.len() as u64);
    let out = client
        .upload_part()
        .bucket(&loc.bucket)
        .key(&loc.key)
        .upload_id(upload_id)
        .part_number(part_number)
        .content_length(body.len() as i64)
        .body(ByteStream::from(body))
        .send()
        .await;
    crate::ops::metrics::uploaded("UploadPart", out.is_ok(), bytes, started.elapsed());
    let out = out.map_err(|e| match error_code(&e) {
        Some("NoSuchUpload") => gone(loc),
        _ => S3SinkError::request("UploadPart", &loc.bucket, &loc.key, e),
    })?;
    out.e_tag.ok_or_else(|| S3SinkError::Request {
        op: "UploadPart",
        bucket: loc.bucket.clone(),
        key: loc.key.clone(),
        code: None,
        detail: format!("the answer for part {part_number} has no ETag"),
    })
}

pub(super) enum Completion {
    Completed,
    /// The server knows no such upload: it was completed earlier, or aborted.
    NoSuchUpload,
    /// A success status whose body could not be read (moto 5.2.1 names the XML root
    /// `CompleteMultipartUploadResponse`, getmoto/moto#10055): the object tells the outcome.
    Unreadable,
}

pub(super) async fn complete(
    client: &Client,
    loc: &S3Location,
    upload_id: &str,
    parts: &[PartRecord],
) -> Result<Completion, S3SinkError> {
    let parts = parts
        .iter()
        .map(|p| {
            CompletedPart::builder()
                .part_number(p.part_number)
                .e_tag(&p.etag)
                .build()
        })
        .collect();
    let result = client
        .complete_multipart_upload()
        .bucket(&loc.bucket)
        .key(&loc.key)
        .upload_id(upload_id)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .set_parts(Some(parts))
                .build(),
        )
        .send()
        .await;
    match result {
        Ok(_) => Ok(Completion::Completed),
        Err(e) if error_code(&e) == Some("NoSuchUpload") => Ok(Completion::NoSuchUpload),
        Err(e)
            if error_code(&e).is_none()
                && e.raw_response().is_some_and(|r| r.status().is_success()) =>
        {
            tracing::debug!(object = %loc, "CompleteMultipartUpload answered 200 with a body the SDK cannot read");
            Ok(Completion::Unreadable)
        }
        Err(e) => Err(S3SinkError::request(
            "CompleteMultipartUpload",
            &loc.bucket,
            &loc.key,
            e,
        )),
    }
}

/// Whether the server still knows the upload (`ListParts` answers something other than
/// `NoSuchUpload`).
pub(super) async fn upload_exists(
    client: &Client,
    loc: &S3Location,
    upload_id: &str,
) -> Result<bool, S3SinkError> {
    match client
        .list_parts()
        .bucket(&loc.bucket)
        .key(&loc.key)
        .upload_id(upload_id)
        .max_parts(1)
        .send()
        .await
    {
        Ok(_) => Ok(true),
        Err(e) if error_code(&e) == Some("NoSuchUpload") => Ok(false),
        Err(e) => Err(S3SinkError::request("ListParts", &loc.bucket, &loc.key, e)),
    }
}

/// Aborts a multipart upload, for the sink and for a sweeper of abandoned uploads. Idempotent:
/// `Ok(false)` when the server knows no such upload (already aborted or completed).
pub async fn abort_upload(
    client: &Client,
    bucket: &str,
    key: &str,
    upload_id: &str,
) -> Result<bool, S3SinkError> {
    match client
        .abort_multipart_upload()
        .bucket(bucket)
        .key(key)
        .upload_id(upload_id)
        .send()
        .await
    {
        Ok(_) => Ok(true),
        Err(e) if error_code(&e) == Some("NoSuchUpload") => Ok(false),
        Err(e) => Err(S3SinkError::request("AbortMultipartUpload", bucket, key, e)),
    }
}

/// A whole object in one request, with its metadata and its row tag set atomically.
pub(super) async fn put_object(
    client: &Client,
    loc: &S3Location,
    body: Bytes,
    job_id: &str,
    content_type: Option<&str>,
    rows: u64,
) -> Result<(), S3SinkError> {
    let (started, bytes) = (std::time::Instant::now(), body.len() as u64);
    let out = client
        .put_object()
        .bucket(&loc.bucket)
        .key(&loc.key)
        .metadata(JOB_ID_METADATA, job_id)
        .tagging(format!("{ROWS_TAG}={rows}"))
        .set_content_type(content_type.map(str::to_owned))
        .content_length(body.len() as i64)
        .body(ByteStream::from(body))
        .send()
        .await;
    crate::ops::metrics::uploaded("PutObject", out.is_ok(), bytes, started.elapsed());
    out.map_err(|e| S3SinkError::request("PutObject", &loc.bucket, &loc.key, e))?;
    Ok(())
}

/// What `HeadObject` says about an existing object.
pub struct ObjectInfo {
    pub job_id: Option<String>,
    pub bytes: u64,
}

/// `None` when there is no object at the key.
pub async fn head(client: &Client, loc: &S3Location) -> Result<Option<ObjectInfo>, S3SinkError> {
    match client
        .head_object()
        .bucket(&loc.bucket)
        .key(&loc.key)
        .send()
        .await
    {
        Ok(out) => Ok(Some(ObjectInfo {
            job_id: out
                .metadata
                .as_ref()
                .and_then(|m| m.get(JOB_ID_METADATA).cloned()),
            bytes: out.content_length.unwrap_or(0).max(0) as u64,
        })),
        Err(e) if e.as_service_error().is_some_and(|s| s.is_not_found()) => Ok(None),
        Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 404) => Ok(None),
        Err(e) => Err(S3SinkError::request("HeadObject", &loc.bucket, &loc.key, e)),
    }
}

/// Object metadata cannot change after creation (short of copying the object), so the row
/// count of a multipart object is a tag, set once it is complete.
pub(super) async fn tag_rows(
    client: &Client,
    loc: &S3Location,
    rows: u64,
) -> Result<(), S3SinkError> {
    let tag = Tag::builder()
        .key(ROWS_TAG)
        .value(rows.to_string())
        .build()
        .expect("key and value are set");
    client
        .put_object_tagging()
        .bucket(&loc.bucket)
        .key(&loc.key)
        .tagging(
            Tagging::builder()
                .tag_set(tag)
                .build()
                .expect("tag set is set"),
        )
        .send()
        .await
        .map_err(|e| S3SinkError::request("PutObjectTagging", &loc.bucket, &loc.key, e))?;
    Ok(())
}

fn gone(loc: &S3Location) -> S3SinkError {
    S3SinkError::UploadGone {
        bucket: loc.bucket.clone(),
        key: loc.key.clone(),
    }
}
