//! Export jobs over HTTP: `POST …/exports` records a job and publishes it (publisher confirms),
//! `GET …/exports/{id}` reports it (with a presigned download URL once it succeeded),
//! `DELETE …/exports/{id}` cancels it. A job of another account is answered 404, exactly like
//! one that does not exist.

use aws_sdk_s3::presigning::PresigningConfig;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Serialize;
use serde_json::{Map, Value};
use time::OffsetDateTime;
use uuid::Uuid;

use super::auth::Caller;
use super::error::ApiError;
use super::state::ApiState;
use crate::queue::{self, JOB_TYPE};
use crate::store::jobs::{self, JobRow, JobStatus, RecordOutcome};

#[derive(Debug, Serialize)]
pub struct Accepted {
    pub job_id: Uuid,
    pub status: JobStatus,
    /// False when this request published nothing: the job already existed (a client retry,
    /// answered 200), or the broker could not be reached; workers still run a recorded job
    /// (they take jobs from the table), only later than a message would have woken them.
    pub published: bool,
}

#[derive(Debug, Serialize)]
pub struct ExportView {
    pub job_id: Uuid,
    pub account_id: String,
    pub user_id: String,
    pub status: JobStatus,
    pub progress: Progress,
    /// Contacts per second between the first start and the last write.
    pub rate: Option<f64>,
    pub attempts: i32,
    pub error: Option<String>,
    pub output_key: String,
    pub output_bytes: i64,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub started_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub finished_at: Option<OffsetDateTime>,
    /// A presigned GET of the finished object (only when `succeeded`).
    pub download_url: Option<String>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub download_url_expires_at: Option<OffsetDateTime>,
}

#[derive(Debug, Serialize)]
pub struct Progress {
    pub total_processed: i64,
    /// The account's `contacts_count` when the API gave it.
    pub contacts_count: Option<i64>,
}

impl ExportView {
    fn of(row: JobRow) -> Self {
        ExportView {
            rate: row.rate(),
            job_id: row.id,
            account_id: row.account_id,
            user_id: row.user_id,
            status: row.status,
            progress: Progress {
                total_processed: row.total_processed,
                contacts_count: row.total_expected,
            },
            attempts: row.attempts,
            error: row.error,
            output_key: row.output_key,
            output_bytes: row.output_bytes,
            created_at: row.created_at,
            started_at: row.started_at,
            finished_at: row.finished_at,
            download_url: None,
            download_url_expires_at: None,
        }
    }
}

/// A body field as text (numbers too: account ids often are).
fn as_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The message the caller asked for, completed from its token: `account_id` and `user_id`
/// default to the token's and must equal them when given; `type` and `job_id` are filled in.
pub fn job_message(caller: &Caller, body: &[u8]) -> Result<Map<String, Value>, ApiError> {
    let mut fields: Map<String, Value> = if body.iter().all(u8::is_ascii_whitespace) {
        Map::new()
    } else {
        serde_json::from_slice(body)
            .map_err(|e| ApiError::BadRequest(format!("body must be a JSON object: {e}")))?
    };
    for (name, own) in [
        ("account_id", &caller.account_id),
        ("user_id", &caller.user_id),
    ] {
        match fields.get(name) {
            None | Some(Value::Null) => {
                fields.insert(name.into(), Value::String(own.clone()));
            }
            Some(v) if as_text(v).as_ref() == Some(own) => {}
            Some(_) => {
                return Err(ApiError::Forbidden(format!(
                    "{name} differs from the one your token names"
                )));
            }
        }
    }
    if fields.get("type").is_none_or(Value::is_null) {
        fields.insert("type".into(), JOB_TYPE.into());
    }
    if fields.get("job_id").is_none_or(Value::is_null) {
        fields.insert("job_id".into(), Uuid::new_v4().to_string().into());
    }
    Ok(fields)
}

#[tracing::instrument(name = "create_export", skip_all, fields(account_id = %caller.account_id, job_id))]
pub async fn create_export(
    State(state): State<ApiState>,
    caller: Caller,
    body: Bytes,
) -> Result<(StatusCode, Json<Accepted>), ApiError> {
    let message = serde_json::to_vec(&job_message(&caller, &body)?).map_err(ApiError::internal)?;
    // The worker's own rules: what it would dead-letter is refused here.
    let spec = queue::parse(&message, None, &state.export_prefix)
        .map_err(|r| ApiError::BadRequest(r.reason))?;
    tracing::Span::current().record("job_id", tracing::field::display(spec.job_id));
    // A caller writes only inside its own account's folder: another account's key (a fixed
    // `output_key` of its schedule, say) could otherwise be overwritten, then presigned back.
    if !in_account_folder(&spec.output_key, &state.export_prefix, &caller.account_id) {
        return Err(ApiError::BadRequest(format!(
            "output_key must start with \"{}/\" (your account's folder under the export prefix)",
            caller.account_id
        )));
    }
    let row = match jobs::record(&state.pool, &spec, state.max_attempts).await? {
        RecordOutcome::Created(row) => row,
        // The same request again (a client retry): nothing new to publish.
        RecordOutcome::Existing(row) if row.account_id == caller.account_id => {
            return Ok((
                StatusCode::OK,
                Json(Accepted {
                    job_id: row.id,
                    status: row.status,
                    published: false,
                }),
            ));
        }
        // Another account's job: answered like a missing one, as everywhere else.
        RecordOutcome::Existing(_) => return Err(ApiError::NotFound { what: "export" }),
    };
    let published = match state.publisher.publish(&message, &row.id.to_string()).await {
        Ok(()) => true,
        Err(e) => {
            tracing::warn!(error = %e, "job recorded but not published; workers will find it in the table");
            false
        }
    };
    tracing::info!(published, "export job created");
    Ok((
        StatusCode::ACCEPTED,
        Json(Accepted {
            job_id: row.id,
            status: row.status,
            published,
        }),
    ))
}

/// `key` lies under `{prefix}{account}/` (account ids hold no '/', so folders cannot nest).
fn in_account_folder(key: &str, prefix: &str, account: &str) -> bool {
    key.strip_prefix(prefix)
        .and_then(|rest| rest.strip_prefix(account))
        .is_some_and(|rest| rest.starts_with('/'))
}

/// The caller's job, or 404 (for a malformed id, a missing job and another account's alike).
async fn own_job(state: &ApiState, caller: &Caller, id: &str) -> Result<JobRow, ApiError> {
    let not_found = || ApiError::NotFound { what: "export" };
    let id = Uuid::parse_str(id).map_err(|_| not_found())?;
    jobs::get(&state.pool, id)
        .await?
        .filter(|row| row.account_id == caller.account_id)
        .ok_or_else(not_found)
}

#[tracing::instrument(name = "get_export", skip_all, fields(account_id = %caller.account_id, job_id = %id))]
pub async fn get_export(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<ExportView>, ApiError> {
    let row = own_job(&state, &caller, &id).await?;
    // Only objects inside the caller's folder are presigned: a queue producer may have put a
    // job's output elsewhere, and that place is not the caller's to read.
    let done = row.status == JobStatus::Succeeded
        && in_account_folder(&row.output_key, &state.export_prefix, &caller.account_id);
    let mut view = ExportView::of(row);
    if done {
        let expires =
            PresigningConfig::expires_in(state.download_ttl).map_err(ApiError::internal)?;
        let request = state
            .s3
            .get_object()
            .bucket(&state.bucket)
            .key(&view.output_key)
            .presigned(expires)
            .await
            .map_err(ApiError::internal)?;
        view.download_url = Some(request.uri().to_owned());
        view.download_url_expires_at = Some(OffsetDateTime::now_utc() + state.download_ttl);
    }
    Ok(Json(view))
}

#[tracing::instrument(name = "cancel_export", skip_all, fields(account_id = %caller.account_id, job_id = %id))]
pub async fn cancel_export(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<ExportView>, ApiError> {
    let row = own_job(&state, &caller, &id).await?;
    let row = jobs::cancel(&state.pool, row.id).await?;
    Ok(Json(ExportView::of(row)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caller() -> Caller {
        Caller {
            account_id: "12345".into(),
            user_id: "user_abc".into(),
        }
    }

    #[test]
    fn the_token_fills_in_and_guards_the_ids() {
        let m = job_message(&caller(), b"{\"batch_size\": 250}").unwrap();
        assert_eq!(m["account_id"], "12345");
        assert_eq!(m["user_id"], "user_abc");
        assert_eq!(m["type"], JOB_TYPE);
        assert!(Uuid::parse_str(m["job_id"].as_str().unwrap()).is_ok());
        assert!(job_message(&caller(), b"{\"account_id\": 12345}").is_ok());
        assert!(job_message(&caller(), b"").is_ok());
        assert!(matches!(
            job_message(&caller(), b"{\"account_id\": \"999\"}"),
            Err(ApiError::Forbidden(_))
        ));
        assert!(matches!(
            job_message(&caller(), b"{\"user_id\": \"someone\"}"),
            Err(ApiError::Forbidden(_))
        ));
        assert!(matches!(
            job_message(&caller(), b"[1]"),
            Err(ApiError::BadRequest(_))
        ));
    }
}
