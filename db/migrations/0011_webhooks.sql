-- Webhooks: endpoints with a delivery cursor into the outbox, their deliveries, and how far
-- the outbox (and read notifications, sent emails) has been pruned.

CREATE TABLE webhooks (
    id               bigserial PRIMARY KEY,
    url              text NOT NULL,
    event_types      text[] NOT NULL,
    secret           text NOT NULL,
    active           boolean NOT NULL DEFAULT true,
    failing          boolean NOT NULL DEFAULT false,
    -- Every event up to here is delivered or did not match: the next delivery is after it.
    cursor           bigint NOT NULL,
    -- The sender holding the endpoint (its lease, the backend pid of its session, until when):
    -- one delivery in flight per endpoint; a lease whose session ended is free at once.
    lease_token      uuid,
    lease_pid        integer,
    lease_until      timestamptz,
    next_attempt_at  timestamptz NOT NULL DEFAULT now(),
    created_by       bigint REFERENCES users (id) ON DELETE SET NULL,
    created_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhooks_due ON webhooks (next_attempt_at) WHERE active AND NOT failing;

CREATE TABLE webhook_deliveries (
    id                 bigserial PRIMARY KEY,
    webhook_id         bigint NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    sequence           bigint NOT NULL,
    event_type         text NOT NULL,
    status             text NOT NULL CHECK (status IN ('PENDING', 'DELIVERED', 'FAILED')),
    attempts           integer NOT NULL DEFAULT 0,
    first_attempt_at   timestamptz NOT NULL DEFAULT now(),
    last_attempt_at    timestamptz,
    last_response_code integer,
    last_error         text,
    next_attempt_at    timestamptz,
    CONSTRAINT webhook_deliveries_once UNIQUE (webhook_id, sequence)
);

-- Sequences at or below `through` are pruned from the outbox: a replay after less is too old.
CREATE TABLE outbox_pruned (
    id      boolean PRIMARY KEY DEFAULT true CHECK (id),
    through bigint NOT NULL
);
INSERT INTO outbox_pruned VALUES (true, 0);

CREATE INDEX events_created_at ON events (created_at);
CREATE INDEX notifications_read_created ON notifications (created_at) WHERE read;
CREATE INDEX email_outbox_sent ON email_outbox (sent_at) WHERE sent_at IS NOT NULL;
