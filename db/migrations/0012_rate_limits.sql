-- Per-token rate-limit windows (DESIGN 10), shared by every process serving the API. One row per
-- token, rewritten by one UPSERT per request. UNLOGGED: counters need no crash safety (a crash
-- resets them) and skip the WAL on every request.
CREATE UNLOGGED TABLE rate_limits (
    token_hash   bytea PRIMARY KEY,
    window_start timestamptz NOT NULL,
    used         integer NOT NULL CHECK (used >= 0)
);
