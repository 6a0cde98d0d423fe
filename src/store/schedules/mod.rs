//! The `export_schedules` table: operators add, list and remove schedules (`cc-export schedules`),
//! and workers turn due runs into jobs (`due`). Times come from the database's clock, so
//! workers whose clocks drift still agree on what is due.

mod due;

use serde::Serialize;
use sqlx::PgPool;
use sqlx::types::Json;
use time::OffsetDateTime;
use uuid::Uuid;

pub use due::{DueRun, Tick, enqueue_due};

use crate::schedule::{CronExpr, CronExprError, JobTemplate};
use crate::store::JobStatus;

#[derive(Debug, thiserror::Error)]
pub enum ScheduleError {
    #[error(transparent)]
    Cron(#[from] CronExprError),
    #[error("schedule {0} not found")]
    NotFound(Uuid),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// One `export_schedules` row, with the status of the last job it enqueued.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct ScheduleRow {
    pub id: Uuid,
    pub name: Option<String>,
    pub cron: String,
    pub account_id: String,
    pub user_id: String,
    #[sqlx(json)]
    pub spec: JobTemplate,
    pub incremental: bool,
    #[serde(with = "time::serde::rfc3339")]
    pub next_run_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_enqueued_at: Option<OffsetDateTime>,
    pub last_job_id: Option<Uuid>,
    #[sqlx(try_from = "Option<String>")]
    pub last_job_status: LastStatus,
    pub last_error: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

/// The last enqueued job's status (`None`: no job yet, or it was deleted).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct LastStatus(pub Option<JobStatus>);

impl TryFrom<Option<String>> for LastStatus {
    type Error = String;
    fn try_from(s: Option<String>) -> Result<Self, String> {
        s.map(|s| s.parse()).transpose().map(LastStatus)
    }
}

/// What `schedules add` asks for.
#[derive(Debug, Clone)]
pub struct NewSchedule {
    pub name: Option<String>,
    pub cron: String,
    pub account_id: String,
    pub user_id: String,
    pub template: JobTemplate,
    pub incremental: bool,
}

const SELECT: &str = "SELECT s.id, s.name, s.cron, s.account_id, s.user_id, s.spec, s.incremental,
        s.next_run_at, s.last_enqueued_at, s.last_job_id, j.status AS last_job_status,
        s.last_error, s.created_at
    FROM export_schedules s LEFT JOIN export_jobs j ON j.id = s.last_job_id";

/// Adds a schedule; its first run is the expression's first time after now (the database's).
/// An expression that never fires is refused.
pub async fn add(pool: &PgPool, new: &NewSchedule) -> Result<ScheduleRow, ScheduleError> {
    let (now,): (OffsetDateTime,) = sqlx::query_as("SELECT now()").fetch_one(pool).await?;
    let cron = CronExpr::parse_firing(&new.cron, now)?;
    let id = Uuid::new_v4();
    sqlx::query(
        "INSERT INTO export_schedules (id, name, cron, account_id, user_id, spec, incremental,
                                       next_run_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(id)
    .bind(&new.name)
    .bind(cron.as_str())
    .bind(&new.account_id)
    .bind(&new.user_id)
    .bind(Json(&new.template))
    .bind(new.incremental)
    .bind(cron.next_after(now)?)
    .execute(pool)
    .await?;
    tracing::info!(schedule_id = %id, account_id = %new.account_id, cron = cron.as_str(), "schedule added");
    get(pool, id).await?.ok_or(ScheduleError::NotFound(id))
}

pub async fn get(pool: &PgPool, id: Uuid) -> Result<Option<ScheduleRow>, ScheduleError> {
    Ok(
        sqlx::query_as::<_, ScheduleRow>(&format!("{SELECT} WHERE s.id = $1"))
            .bind(id)
            .fetch_optional(pool)
            .await?,
    )
}

/// Soonest due first; `account` filters when given.
pub async fn list(pool: &PgPool, account: Option<&str>) -> Result<Vec<ScheduleRow>, ScheduleError> {
    Ok(sqlx::query_as::<_, ScheduleRow>(&format!(
        "{SELECT} WHERE ($1::text IS NULL OR s.account_id = $1) ORDER BY s.next_run_at, s.id"
    ))
    .bind(account)
    .fetch_all(pool)
    .await?)
}

/// Removes a schedule. Its jobs stay (their `schedule_id` becomes NULL); a run already
/// enqueued still runs.
pub async fn remove(pool: &PgPool, id: Uuid) -> Result<ScheduleRow, ScheduleError> {
    let row = get(pool, id).await?.ok_or(ScheduleError::NotFound(id))?;
    let deleted = sqlx::query("DELETE FROM export_schedules WHERE id = $1")
        .bind(id)
        .execute(pool)
        .await?;
    if deleted.rows_affected() == 0 {
        return Err(ScheduleError::NotFound(id));
    }
    tracing::info!(schedule_id = %id, account_id = %row.account_id, "schedule removed");
    Ok(row)
}

/// The schedule's jobs, `(job id, scheduled_for)`, oldest run first.
pub async fn runs(pool: &PgPool, id: Uuid) -> Result<Vec<(Uuid, OffsetDateTime)>, ScheduleError> {
    Ok(sqlx::query_as(
        "SELECT id, scheduled_for FROM export_jobs WHERE schedule_id = $1
         ORDER BY scheduled_for, id",
    )
    .bind(id)
    .fetch_all(pool)
    .await?)
}
