-- The cluster-wide rate limit (docs/RATE_LIMIT.md): one GCRA slot per API key, on the database's
-- clock. `tat` (theoretical arrival time) is when the key's next request may go; each request
-- takes max(tat, now) and pushes tat one interval further.
CREATE TABLE api_key_slots (
    api_key text        PRIMARY KEY,
    tat     timestamptz NOT NULL
);

-- Requests per API key and UTC day, counted when a slot is granted (so a slot that was never
-- used still counts: the count errs high, never low). `exhausted_at`: the API answered 429
-- quota_exceeded that day, which stops every process until 00:00 UTC whatever the count says.
CREATE TABLE api_key_usage (
    api_key      text        NOT NULL,
    day          date        NOT NULL,
    requests     bigint      NOT NULL DEFAULT 0,
    exhausted_at timestamptz,
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (api_key, day)
);
