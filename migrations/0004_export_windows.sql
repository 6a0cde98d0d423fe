-- Partitioned exports (issue 5): the checkpoint says which created_at window `last_cursor`
-- belongs to, and keeps the plan's boundaries so a resumed run walks the same windows.
ALTER TABLE export_jobs
    ADD COLUMN window_index integer NOT NULL DEFAULT 0,
    ADD COLUMN windows      text[]  NOT NULL DEFAULT '{}';
