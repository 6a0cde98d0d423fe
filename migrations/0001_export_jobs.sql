-- The job table is the source of truth: a delivery from RabbitMQ is recorded here, acknowledged,
-- and run by whichever worker holds the row's lease.
CREATE TABLE export_jobs (
    id               uuid PRIMARY KEY,
    account_id       text        NOT NULL,
    user_id          text        NOT NULL,
    status           text        NOT NULL DEFAULT 'queued'
                     CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
    -- The validated JobSpec; NULL only for a dead-lettered message recorded as a failed job
    -- (its raw body is in export_job_rejections).
    spec             jsonb,
    -- Checkpoint: the cursor that follows the last contact inside an uploaded part.
    last_cursor      text,
    total_processed  bigint      NOT NULL DEFAULT 0,
    pages            bigint      NOT NULL DEFAULT 0,
    -- Every page has been fetched and stored: only CompleteMultipartUpload may be missing.
    fetch_done       boolean     NOT NULL DEFAULT false,
    -- CSV columns resolved on the first run (custom fields included), so a resumed run writes
    -- the columns its header names.
    columns          jsonb,
    attempts         integer     NOT NULL DEFAULT 0,
    max_attempts     integer     NOT NULL DEFAULT 5,
    restarts         integer     NOT NULL DEFAULT 0,
    error            text,
    output_key       text        NOT NULL,
    output_bytes     bigint      NOT NULL DEFAULT 0,
    total_expected   bigint,
    upload_id        text,
    lease_owner      text,
    lease_expires_at timestamptz,
    heartbeat_at     timestamptz,
    run_after        timestamptz NOT NULL DEFAULT now(),
    created_at       timestamptz NOT NULL DEFAULT now(),
    started_at       timestamptz,
    updated_at       timestamptz NOT NULL DEFAULT now(),
    finished_at      timestamptz
);

CREATE INDEX export_jobs_runnable_idx ON export_jobs (run_after, created_at) WHERE status = 'queued';
CREATE INDEX export_jobs_lease_idx ON export_jobs (lease_expires_at) WHERE status = 'running';
CREATE INDEX export_jobs_status_idx ON export_jobs (status, updated_at DESC);
CREATE INDEX export_jobs_account_idx ON export_jobs (account_id, created_at DESC);
-- Cancelled or failed jobs whose multipart upload still has to be aborted.
CREATE INDEX export_jobs_orphan_upload_idx ON export_jobs (updated_at)
    WHERE upload_id IS NOT NULL AND status IN ('failed', 'cancelled');

-- Every write bumps updated_at, so operators' rates and staleness checks never depend on each
-- statement remembering to.
CREATE FUNCTION export_jobs_touch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END
$$;
CREATE TRIGGER export_jobs_touch BEFORE UPDATE ON export_jobs
    FOR EACH ROW EXECUTE FUNCTION export_jobs_touch();

CREATE TABLE export_job_parts (
    job_id      uuid        NOT NULL REFERENCES export_jobs (id) ON DELETE CASCADE,
    part_number integer     NOT NULL CHECK (part_number BETWEEN 1 AND 10000),
    upload_id   text        NOT NULL,
    etag        text        NOT NULL,
    rows        bigint      NOT NULL,
    bytes       bigint      NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (job_id, part_number)
);

-- Multipart uploads to abort that no job row holds any more: `jobs retry` moves a failed or
-- cancelled job's upload here (the job starts a new one), `begin_upload` moves a replaced one.
-- The worker's sweeper aborts them (with the failed/cancelled jobs' own upload_id) and deletes them.
CREATE TABLE export_upload_orphans (
    job_id     uuid        NOT NULL,
    output_key text        NOT NULL,
    upload_id  text        NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (job_id, upload_id)
);

-- Dead-lettered messages that named a job id: every reason is kept, whatever the job's state.
CREATE TABLE export_job_rejections (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    job_id     uuid        NOT NULL,
    reason     text        NOT NULL,
    raw        jsonb       NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX export_job_rejections_job_idx ON export_job_rejections (job_id, created_at);

-- OAuth tokens per (account, user), AES-256-GCM encrypted; key_id names the key that sealed them.
CREATE TABLE cc_tokens (
    account_id        text        NOT NULL,
    user_id           text        NOT NULL,
    access_token_enc  bytea       NOT NULL,
    refresh_token_enc bytea       NOT NULL,
    key_id            text        NOT NULL,
    generated_at      timestamptz NOT NULL,
    updated_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (account_id, user_id)
);
