-- Scheduled syncs (issue 6): a cron expression (5 fields, UTC) and a job template per schedule.
-- The worker holding the schedules' advisory lock turns each due run into one export_jobs row.
CREATE TABLE export_schedules (
    id               uuid PRIMARY KEY,
    name             text,
    cron             text        NOT NULL,
    account_id       text        NOT NULL,
    user_id          text        NOT NULL,
    -- The job fields every run gets (batch_size, format, gzip, columns, lists, updated_after,
    -- output_key), as `cc-export enqueue` takes them.
    spec             jsonb       NOT NULL,
    -- Each run exports contacts updated after the start of the schedule's last succeeded run.
    incremental      boolean     NOT NULL DEFAULT false,
    next_run_at      timestamptz NOT NULL,
    last_enqueued_at timestamptz,
    last_job_id      uuid,
    -- Why the last due run could not be enqueued (its template no longer validates), if so.
    last_error       text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX export_schedules_due_idx ON export_schedules (next_run_at);

-- A job enqueued by a schedule names it and the run it stands for; the unique index makes a
-- second insert of the same run impossible, whatever the workers do.
ALTER TABLE export_jobs
    ADD COLUMN schedule_id   uuid REFERENCES export_schedules (id) ON DELETE SET NULL,
    ADD COLUMN scheduled_for timestamptz;
CREATE UNIQUE INDEX export_jobs_schedule_run_idx ON export_jobs (schedule_id, scheduled_for)
    WHERE schedule_id IS NOT NULL;
-- The last succeeded run of a schedule (incremental runs start from its started_at).
CREATE INDEX export_jobs_schedule_succeeded_idx ON export_jobs (schedule_id, started_at DESC)
    WHERE status = 'succeeded' AND schedule_id IS NOT NULL;
