-- Deal approval processes, approvals with votes, history and comments; the email outbox.

CREATE TABLE approval_processes (
    id                bigserial PRIMARY KEY,
    pipeline_id       bigint NOT NULL REFERENCES pipelines (id) ON DELETE CASCADE,
    approval_stage_id bigint NOT NULL REFERENCES stages (id),
    mode              text NOT NULL CHECK (mode IN ('ALL', 'ANY')),
    note              text NOT NULL,
    enabled           boolean NOT NULL DEFAULT true,
    created_at        timestamptz NOT NULL DEFAULT now(),
    disabled_at       timestamptz
);
CREATE UNIQUE INDEX approval_processes_one_per_pipeline ON approval_processes (pipeline_id) WHERE enabled;

CREATE TABLE approval_process_approvers (
    process_id bigint NOT NULL REFERENCES approval_processes (id) ON DELETE CASCADE,
    user_id    bigint NOT NULL REFERENCES users (id),
    position   integer NOT NULL,
    PRIMARY KEY (process_id, user_id)
);

-- Deals already past the approval stage when the process was enabled.
CREATE TABLE approval_exempt_deals (
    process_id bigint NOT NULL REFERENCES approval_processes (id) ON DELETE CASCADE,
    deal_id    bigint NOT NULL REFERENCES deals (id) ON DELETE CASCADE,
    PRIMARY KEY (process_id, deal_id)
);

CREATE TABLE deal_approvals (
    id             bigserial PRIMARY KEY,
    deal_id        bigint NOT NULL REFERENCES deals (id) ON DELETE CASCADE,
    process_id     bigint NOT NULL REFERENCES approval_processes (id) ON DELETE CASCADE,
    status         text NOT NULL CHECK (status IN ('NOT_STARTED', 'PENDING', 'CHANGES_REQUESTED', 'APPROVED', 'REJECTED', 'CANCELLED')),
    blocker_code   text,
    reason         text,
    next_step      text,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX deal_approvals_deal ON deal_approvals (deal_id, id DESC);
CREATE INDEX deal_approvals_process ON deal_approvals (process_id);

CREATE TABLE approval_votes (
    approval_id bigint NOT NULL REFERENCES deal_approvals (id) ON DELETE CASCADE,
    approver_id bigint NOT NULL REFERENCES users (id),
    action      text NOT NULL CHECK (action IN ('APPROVE', 'REJECT', 'REQUEST_CHANGES')),
    text        text,
    decided_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (approval_id, approver_id)
);

CREATE TABLE approval_history (
    id          bigserial PRIMARY KEY,
    approval_id bigint NOT NULL REFERENCES deal_approvals (id) ON DELETE CASCADE,
    status      text NOT NULL,
    actor_id    bigint REFERENCES users (id),
    at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX approval_history_approval ON approval_history (approval_id, id);

CREATE TABLE approval_comments (
    id          bigserial PRIMARY KEY,
    approval_id bigint NOT NULL REFERENCES deal_approvals (id) ON DELETE CASCADE,
    author_id   bigint NOT NULL REFERENCES users (id),
    body        text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX approval_comments_approval ON approval_comments (approval_id, id);

-- Emails to send; a sender claims rows with FOR UPDATE SKIP LOCKED and marks them sent.
CREATE TABLE email_outbox (
    id              bigserial PRIMARY KEY,
    user_id         bigint REFERENCES users (id),
    to_address      text NOT NULL,
    subject         text NOT NULL,
    body            text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    sent_at         timestamptz,
    last_error      text
);
CREATE INDEX email_outbox_due ON email_outbox (next_attempt_at) WHERE sent_at IS NULL;
