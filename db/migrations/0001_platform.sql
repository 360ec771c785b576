-- Users, teams, API tokens, the event outbox and notifications.

CREATE TABLE users (
    id                bigserial PRIMARY KEY,
    email             text NOT NULL,
    name              text NOT NULL,
    active            boolean NOT NULL DEFAULT true,
    is_super_admin    boolean NOT NULL DEFAULT false,
    can_approve_deals boolean NOT NULL DEFAULT false,
    view_scope        text NOT NULL DEFAULT 'ALL' CHECK (view_scope IN ('ALL', 'TEAM', 'OWNED')),
    edit_scope        text NOT NULL DEFAULT 'ALL' CHECK (edit_scope IN ('ALL', 'TEAM', 'OWNED')),
    created_at        timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX users_email_key ON users (lower(email));

CREATE TABLE teams (
    id         bigserial PRIMARY KEY,
    name       text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX teams_name_key ON teams (lower(name));

CREATE TABLE team_members (
    team_id    bigint NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    user_id    bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    is_primary boolean NOT NULL,
    PRIMARY KEY (team_id, user_id)
);
CREATE UNIQUE INDEX team_members_one_primary_team ON team_members (user_id) WHERE is_primary;
CREATE INDEX team_members_user ON team_members (user_id);

CREATE TABLE api_tokens (
    id         bigserial PRIMARY KEY,
    user_id    bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash bytea NOT NULL UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now(),
    revoked_at timestamptz
);

-- The outbox. event_head is locked by every appending transaction, so sequences are handed
-- out in commit order and a reader never sees sequence n+1 before sequence n.
CREATE TABLE event_head (
    id       boolean PRIMARY KEY DEFAULT true CHECK (id),
    sequence bigint NOT NULL
);
INSERT INTO event_head VALUES (true, 0);

CREATE TABLE events (
    sequence    bigint PRIMARY KEY,
    type        text NOT NULL,
    payload     jsonb NOT NULL,
    owner_id    bigint,
    audience    bigint[] NOT NULL DEFAULT '{}',
    pipeline_id bigint,
    deal_id     bigint,
    quote_id    bigint,
    import_id   bigint,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE notifications (
    id         bigserial PRIMARY KEY,
    user_id    bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind       text NOT NULL,
    message    text NOT NULL,
    deal_id    bigint,
    quote_id   bigint,
    read       boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX notifications_user ON notifications (user_id, id DESC);

-- Idempotency keys of create mutations: the same key returns the first result.
CREATE TABLE idempotency_keys (
    user_id    bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    key        text NOT NULL,
    operation  text NOT NULL,
    result_id  bigint NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, operation, key)
);
