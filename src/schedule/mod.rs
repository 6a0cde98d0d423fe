//! Scheduled syncs: a cron expression ([`CronExpr`], five fields, UTC) and the job fields every
//! run gets ([`JobTemplate`]). Pure: the table is in `store::schedules`, the loop that enqueues
//! due runs in `worker::schedules`.

mod cron;
mod template;

pub use cron::{CronExpr, CronExprError};
pub use template::{JobTemplate, run_job_id};
