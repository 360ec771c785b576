-- Workflows: an enrollment trigger and ordered actions; rotate-to-owner counts per action.

CREATE TABLE workflows (
    id               bigserial PRIMARY KEY,
    name             text NOT NULL,
    object_type      text NOT NULL CHECK (object_type IN ('CONTACT', 'COMPANY', 'DEAL', 'TICKET', 'QUOTE')),
    trigger_event    text NOT NULL CHECK (trigger_event IN ('CREATED', 'PROPERTY_CHANGED')),
    trigger_property text,
    filter_groups    jsonb NOT NULL DEFAULT '[]',
    enabled          boolean NOT NULL DEFAULT false,
    system_key       text UNIQUE,
    created_by       bigint REFERENCES users (id),
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX workflows_enabled ON workflows (object_type) WHERE enabled;

CREATE TABLE workflow_actions (
    id          bigserial PRIMARY KEY,
    workflow_id bigint NOT NULL REFERENCES workflows (id) ON DELETE CASCADE,
    position    integer NOT NULL,
    type        text NOT NULL CHECK (type IN ('SET_PROPERTY', 'ROTATE_OWNER', 'CREATE_TASK', 'SEND_NOTIFICATION')),
    property    text,
    value       text,
    owner_ids   bigint[] NOT NULL DEFAULT '{}',
    team_id     bigint REFERENCES teams (id),
    overwrite   boolean NOT NULL DEFAULT false,
    title       text,
    body        text,
    UNIQUE (workflow_id, position)
);

CREATE TABLE rotation_counts (
    action_id bigint NOT NULL REFERENCES workflow_actions (id) ON DELETE CASCADE,
    user_id   bigint NOT NULL REFERENCES users (id),
    count     integer NOT NULL DEFAULT 0,
    PRIMARY KEY (action_id, user_id)
);

CREATE TABLE workflow_enrollments (
    id          bigserial PRIMARY KEY,
    workflow_id bigint NOT NULL REFERENCES workflows (id) ON DELETE CASCADE,
    object_type text NOT NULL,
    object_id   bigint NOT NULL,
    outcome     jsonb NOT NULL DEFAULT '[]',
    enrolled_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX workflow_enrollments_workflow ON workflow_enrollments (workflow_id, id);
