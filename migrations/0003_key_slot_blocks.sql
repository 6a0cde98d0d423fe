-- The key's slots are reserved a block at a time (docs/RATE_LIMIT.md): one call of
-- reserve_key_block per block instead of one statement per request. A process paces its own
-- requests inside its blocks; the jitter gap is only paid when the key passes to another process.

-- The process whose block ends at `tat` (NULL: written before blocks existed, or never).
ALTER TABLE api_key_slots ADD COLUMN holder text;

-- Counts up to p_slots slots against the key's UTC day (fewer when the quota is nearly spent;
-- none when it is spent or the day is marked exhausted), then takes the key's next stretch of
-- time for them: directly after p_holder's previous block when that block, ending at p_after,
-- is the last one taken; else p_gap_us after the last block's end. Never in the past: the clock
-- is read once the key's row is locked. p_unused slots of the caller's earlier blocks, counted
-- on p_unused_day and never used, are given back first.
CREATE FUNCTION reserve_key_block(
    p_key text,
    p_holder text,
    p_after timestamptz,
    p_slots integer,
    p_interval_us bigint,
    p_gap_us bigint,
    p_quota bigint,
    p_unused integer,
    p_unused_day date
) RETURNS TABLE (
    granted integer,
    usage_day date,
    starts_at timestamptz,
    ends_at timestamptz,
    starts_in_us bigint,
    ends_in_us bigint,
    follows boolean
) LANGUAGE plpgsql AS $$
DECLARE
    v_requests bigint;
    v_exhausted timestamptz;
    v_tat timestamptz;
    v_holder text;
    v_clock timestamptz;
BEGIN
    usage_day := (now() AT TIME ZONE 'UTC')::date;
    granted := 0;
    follows := false;
    IF p_unused > 0 THEN
        UPDATE api_key_usage u
           SET requests = greatest(u.requests - p_unused, 0), updated_at = now()
         WHERE u.api_key = p_key AND u.day = p_unused_day;
    END IF;
    IF p_quota <= 0 OR p_slots <= 0 THEN
        RETURN NEXT;
        RETURN;
    END IF;
    INSERT INTO api_key_usage AS u (api_key, day, requests, updated_at)
    VALUES (p_key, usage_day, 0, now())
    ON CONFLICT (api_key, day) DO NOTHING;
    SELECT u.requests, u.exhausted_at INTO v_requests, v_exhausted
      FROM api_key_usage u
     WHERE u.api_key = p_key AND u.day = usage_day
       FOR UPDATE;
    IF v_exhausted IS NOT NULL OR v_requests >= p_quota THEN
        RETURN NEXT;
        RETURN;
    END IF;
    granted := least(p_slots, p_quota - v_requests);
    UPDATE api_key_usage u
       SET requests = u.requests + granted, updated_at = now()
     WHERE u.api_key = p_key AND u.day = usage_day;

    INSERT INTO api_key_slots AS s (api_key, tat) VALUES (p_key, '-infinity')
    ON CONFLICT (api_key) DO NOTHING;
    SELECT s.tat, s.holder INTO v_tat, v_holder
      FROM api_key_slots s
     WHERE s.api_key = p_key
       FOR UPDATE;
    v_clock := clock_timestamp();
    follows := coalesce(v_holder = p_holder AND v_tat = p_after, false);
    IF follows THEN
        starts_at := greatest(v_tat, v_clock);
    ELSE
        starts_at := greatest(v_tat + p_gap_us * interval '1 microsecond', v_clock);
    END IF;
    -- An idle key: the block starts now, not where the last one ended.
    follows := follows AND starts_at = v_tat;
    ends_at := starts_at + granted * p_interval_us * interval '1 microsecond';
    UPDATE api_key_slots s SET tat = ends_at, holder = p_holder WHERE s.api_key = p_key;
    starts_in_us := (extract(epoch FROM starts_at - v_clock) * 1000000)::bigint;
    ends_in_us := (extract(epoch FROM ends_at - v_clock) * 1000000)::bigint;
    RETURN NEXT;
END
$$;
