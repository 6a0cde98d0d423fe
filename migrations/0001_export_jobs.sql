-- The job table is the source of truth: a delivery from RabbitMQ is recorded here, acknowledged,
-- and run by whichever worker holds the row's lease.
CREATE TABLE export_jobs (
    id               uuid PRIMARY KEY,
    account_id       text        NOT NULL,
    user_id          text        NOT NULL,
    status           text        NOT NULL DEFAULT 'queued'
                     CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
    spec             jsonb       NOT NULL,
    -- Checkpoint: the cursor that follows the last contact inside an uploaded part.
    last_cursor      text,
    total_processed  bigint      NOT NULL DEFAULT 0,
    pages            bigint      NOT NULL DEFAULT 0,
    -- Every page has been fetched and stored: only CompleteMultipartUpload may be missing.
    fetch_done       boolean     NOT NULL DEFAULT false,
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
