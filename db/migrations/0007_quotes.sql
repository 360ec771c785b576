-- Quotes on deals with their line items, and the one quote approval setting (seed 001).

CREATE TABLE quotes (
    id           bigserial PRIMARY KEY,
    deal_id      bigint NOT NULL REFERENCES deals (id) ON DELETE CASCADE,
    title        text NOT NULL CHECK (title <> ''),
    status       text NOT NULL DEFAULT 'DRAFT' CHECK (status IN
                     ('DRAFT', 'PENDING_APPROVAL', 'CHANGES_REQUESTED', 'APPROVED', 'PUBLISHED', 'RECALLED')),
    currency     text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    terms        text,
    expires_at   timestamptz,
    total        numeric NOT NULL DEFAULT 0,
    created_by   bigint NOT NULL REFERENCES users (id),
    approver_id  bigint REFERENCES users (id),
    change_notes text,
    public_token text NOT NULL,
    published_at timestamptz,
    properties   jsonb NOT NULL DEFAULT '{}',
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    version      integer NOT NULL DEFAULT 1
);
CREATE INDEX quotes_deal ON quotes (deal_id, id);
CREATE UNIQUE INDEX quotes_public_token_key ON quotes (public_token);
CREATE INDEX quotes_awaiting_approver ON quotes (approver_id) WHERE status = 'PENDING_APPROVAL';

CREATE TABLE quote_line_items (
    quote_id         bigint NOT NULL REFERENCES quotes (id) ON DELETE CASCADE,
    position         integer NOT NULL,
    name             text NOT NULL,
    quantity         integer NOT NULL CHECK (quantity >= 0),
    unit_price       numeric NOT NULL CHECK (unit_price >= 0),
    discount_percent numeric NOT NULL DEFAULT 0 CHECK (discount_percent >= 0 AND discount_percent <= 100),
    PRIMARY KEY (quote_id, position)
);

CREATE TABLE quote_settings (
    id                boolean PRIMARY KEY DEFAULT true CHECK (id),
    approval_required boolean NOT NULL DEFAULT false,
    approver_id       bigint REFERENCES users (id),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    CHECK (NOT approval_required OR approver_id IS NOT NULL)
);
INSERT INTO quote_settings DEFAULT VALUES;

-- A quote property set by a workflow is recorded in the property history like a record's.
ALTER TABLE property_history DROP CONSTRAINT IF EXISTS property_history_object_type_check;
ALTER TABLE property_history ADD CONSTRAINT property_history_object_type_check
    CHECK (object_type IN ('CONTACT', 'COMPANY', 'DEAL', 'TICKET', 'QUOTE'));
