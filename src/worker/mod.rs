//! `cc-export worker`: takes jobs from RabbitMQ into the job table, and runs them from there.
//!
//! The job row is the source of truth. A delivery is validated, recorded and acknowledged at
//! once (an export can outlast RabbitMQ's `consumer_timeout`); the scheduler claims runnable rows
//! with a lease, so exactly one worker runs a job, and any worker picks up a job whose lease
//! expired (its worker died). Every worker also enqueues the due runs of the export schedules
//! (`schedules`; one worker at a time, under a Postgres advisory lock).

mod cancellations;
mod intake;
mod outcome;
mod runner;
mod scheduler;
mod schedules;
mod sweeper;

pub use scheduler::run;
