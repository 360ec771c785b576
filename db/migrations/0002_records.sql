-- CRM records, pipelines, associations, property history and engagements.

CREATE EXTENSION IF NOT EXISTS pg_trgm;

CREATE TABLE pipelines (
    id         bigserial PRIMARY KEY,
    label      text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE stages (
    id                bigserial PRIMARY KEY,
    pipeline_id       bigint NOT NULL REFERENCES pipelines (id) ON DELETE CASCADE,
    label             text NOT NULL,
    display_order     integer NOT NULL,
    probability       double precision NOT NULL CHECK (probability >= 0 AND probability <= 1),
    kind              text NOT NULL CHECK (kind IN ('OPEN', 'CLOSED_WON', 'CLOSED_LOST')),
    is_approval_stage boolean NOT NULL DEFAULT false
);
CREATE INDEX stages_pipeline ON stages (pipeline_id, display_order);

CREATE TABLE contacts (
    id                 bigserial PRIMARY KEY,
    email              text,
    first_name         text,
    last_name          text,
    company_name       text,
    lifecycle_stage    text,
    owner_id           bigint REFERENCES users (id),
    properties         jsonb NOT NULL DEFAULT '{}',
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    last_activity_date timestamptz,
    last_contacted     timestamptz,
    deleted_at         timestamptz,
    version            integer NOT NULL DEFAULT 1
);
CREATE UNIQUE INDEX contacts_email_key ON contacts (lower(email)) WHERE deleted_at IS NULL;
CREATE INDEX contacts_owner ON contacts (owner_id) WHERE deleted_at IS NULL;
CREATE INDEX contacts_search ON contacts
    USING gin ((coalesce(first_name, '') || ' ' || coalesce(last_name, '') || ' ' || coalesce(email, '')) gin_trgm_ops);

CREATE TABLE companies (
    id                 bigserial PRIMARY KEY,
    name               text,
    domain             text,
    lifecycle_stage    text,
    owner_id           bigint REFERENCES users (id),
    properties         jsonb NOT NULL DEFAULT '{}',
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    last_activity_date timestamptz,
    last_contacted     timestamptz,
    deleted_at         timestamptz,
    version            integer NOT NULL DEFAULT 1
);
CREATE UNIQUE INDEX companies_domain_key ON companies (lower(domain)) WHERE deleted_at IS NULL;
CREATE INDEX companies_owner ON companies (owner_id) WHERE deleted_at IS NULL;
CREATE INDEX companies_search ON companies
    USING gin ((coalesce(name, '') || ' ' || coalesce(domain, '')) gin_trgm_ops);

CREATE TABLE deals (
    id                     bigserial PRIMARY KEY,
    name                   text NOT NULL,
    amount                 numeric(18, 2) CHECK (amount >= 0),
    currency               text NOT NULL DEFAULT 'USD',
    pipeline_id            bigint NOT NULL REFERENCES pipelines (id),
    stage_id               bigint NOT NULL REFERENCES stages (id),
    owner_id               bigint REFERENCES users (id),
    close_date             timestamptz,
    properties             jsonb NOT NULL DEFAULT '{}',
    latest_approval_status text,
    created_at             timestamptz NOT NULL DEFAULT now(),
    updated_at             timestamptz NOT NULL DEFAULT now(),
    last_activity_date     timestamptz,
    last_contacted         timestamptz,
    deleted_at             timestamptz,
    version                integer NOT NULL DEFAULT 1
);
CREATE INDEX deals_board ON deals (stage_id, created_at DESC, id DESC) WHERE deleted_at IS NULL;
CREATE INDEX deals_pipeline ON deals (pipeline_id) WHERE deleted_at IS NULL;
CREATE INDEX deals_owner ON deals (owner_id) WHERE deleted_at IS NULL;
CREATE INDEX deals_search ON deals USING gin (name gin_trgm_ops);

CREATE TABLE tickets (
    id                 bigserial PRIMARY KEY,
    subject            text NOT NULL,
    owner_id           bigint REFERENCES users (id),
    properties         jsonb NOT NULL DEFAULT '{}',
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    last_activity_date timestamptz,
    last_contacted     timestamptz,
    deleted_at         timestamptz,
    version            integer NOT NULL DEFAULT 1
);
CREATE INDEX tickets_search ON tickets USING gin (subject gin_trgm_ops);

CREATE TABLE contact_companies (
    contact_id bigint NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    company_id bigint NOT NULL REFERENCES companies (id) ON DELETE CASCADE,
    is_primary boolean NOT NULL DEFAULT false,
    PRIMARY KEY (contact_id, company_id)
);
CREATE UNIQUE INDEX contact_companies_one_primary ON contact_companies (contact_id) WHERE is_primary;
CREATE INDEX contact_companies_company ON contact_companies (company_id);

CREATE TABLE deal_contacts (
    deal_id    bigint NOT NULL REFERENCES deals (id) ON DELETE CASCADE,
    contact_id bigint NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    PRIMARY KEY (deal_id, contact_id)
);
CREATE INDEX deal_contacts_contact ON deal_contacts (contact_id);

CREATE TABLE deal_companies (
    deal_id    bigint NOT NULL REFERENCES deals (id) ON DELETE CASCADE,
    company_id bigint NOT NULL REFERENCES companies (id) ON DELETE CASCADE,
    PRIMARY KEY (deal_id, company_id)
);
CREATE INDEX deal_companies_company ON deal_companies (company_id);

CREATE TABLE property_history (
    id          bigserial PRIMARY KEY,
    object_type text NOT NULL CHECK (object_type IN ('CONTACT', 'COMPANY', 'DEAL', 'TICKET')),
    object_id   bigint NOT NULL,
    name        text NOT NULL,
    old_value   text,
    new_value   text,
    source      text NOT NULL CHECK (source IN ('UI', 'API', 'IMPORT', 'WORKFLOW', 'AUTOMATION', 'FORM', 'INTEGRATION')),
    changed_by  bigint REFERENCES users (id),
    changed_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX property_history_record ON property_history (object_type, object_id, name, id);

CREATE TABLE engagements (
    id            bigserial PRIMARY KEY,
    type          text NOT NULL CHECK (type IN ('NOTE', 'TASK', 'CALL', 'EMAIL', 'MEETING')),
    title         text,
    body          text,
    email_address text,
    assignee_id   bigint REFERENCES users (id),
    done          boolean NOT NULL DEFAULT false,
    created_by    bigint REFERENCES users (id),
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX engagements_email ON engagements (lower(email_address)) WHERE email_address IS NOT NULL;
CREATE INDEX engagements_assignee ON engagements (assignee_id, id) WHERE type = 'TASK';

CREATE TABLE engagement_records (
    engagement_id bigint NOT NULL REFERENCES engagements (id) ON DELETE CASCADE,
    object_type   text NOT NULL,
    object_id     bigint NOT NULL,
    PRIMARY KEY (engagement_id, object_type, object_id)
);
CREATE INDEX engagement_records_record ON engagement_records (object_type, object_id);

-- The default sales pipeline every new database starts with.
WITH p AS (INSERT INTO pipelines (label) VALUES ('Sales pipeline') RETURNING id)
INSERT INTO stages (pipeline_id, label, display_order, probability, kind)
SELECT p.id, s.label, s.display_order, s.probability, s.kind
  FROM p, (VALUES
    ('Appointment scheduled', 0, 0.2, 'OPEN'),
    ('Qualified to buy', 1, 0.4, 'OPEN'),
    ('Presentation scheduled', 2, 0.6, 'OPEN'),
    ('Decision maker bought-in', 3, 0.8, 'OPEN'),
    ('Contract sent', 4, 0.9, 'OPEN'),
    ('Closed won', 5, 1.0, 'CLOSED_WON'),
    ('Closed lost', 6, 0.0, 'CLOSED_LOST')
  ) AS s (label, display_order, probability, kind);
