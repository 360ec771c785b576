-- CSV imports: jobs with progress and a lease, the stored file, per-row errors, keys met so far.

CREATE TABLE imports (
    id             bigserial PRIMARY KEY,
    object_type    text NOT NULL CHECK (object_type IN ('CONTACT', 'COMPANY', 'DEAL', 'TICKET')),
    status         text NOT NULL DEFAULT 'QUEUED' CHECK (status IN ('QUEUED', 'RUNNING', 'DONE', 'FAILED')),
    created_by     bigint NOT NULL REFERENCES users (id),
    rows_total     integer,
    rows_processed integer NOT NULL DEFAULT 0,
    rows_created   integer NOT NULL DEFAULT 0,
    rows_updated   integer NOT NULL DEFAULT 0,
    error_count    integer NOT NULL DEFAULT 0,
    warnings       text[] NOT NULL DEFAULT '{}',
    failure        text,
    -- The runner holding the job, until when; a runner renews the lease with every batch, and a
    -- job whose lease ran out (its process died) is claimed again and resumes after rows_processed.
    claimed_by     text,
    lease_until    timestamptz,
    attempts       integer NOT NULL DEFAULT 0,
    created_at     timestamptz NOT NULL DEFAULT now(),
    started_at     timestamptz,
    finished_at    timestamptz
);
CREATE INDEX imports_due ON imports (id) WHERE status IN ('QUEUED', 'RUNNING');
CREATE INDEX imports_creator ON imports (created_by, id);

-- The file as uploaded, in chunks of about 1 MB, read back one chunk at a time.
CREATE TABLE import_files (
    import_id bigint NOT NULL REFERENCES imports (id) ON DELETE CASCADE,
    seq       integer NOT NULL,
    data      bytea NOT NULL,
    PRIMARY KEY (import_id, seq)
);

CREATE TABLE import_errors (
    import_id bigint NOT NULL REFERENCES imports (id) ON DELETE CASCADE,
    line      integer NOT NULL,
    code      text NOT NULL,
    message   text NOT NULL,
    PRIMARY KEY (import_id, line)
);

-- Record ids, emails and domains met in an import so far, with the first line that had each:
-- a later line with the same key is a duplicate. Dropped when the import finishes.
CREATE TABLE import_keys (
    import_id bigint NOT NULL REFERENCES imports (id) ON DELETE CASCADE,
    key       text NOT NULL,
    line      integer NOT NULL,
    PRIMARY KEY (import_id, key)
);
