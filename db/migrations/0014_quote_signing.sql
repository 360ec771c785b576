-- Quotes signed on their page (status SIGNED, when and by whom), and indexes for the quotes list.

ALTER TABLE quotes DROP CONSTRAINT IF EXISTS quotes_status_check;
ALTER TABLE quotes ADD CONSTRAINT quotes_status_check CHECK (status IN
    ('DRAFT', 'PENDING_APPROVAL', 'CHANGES_REQUESTED', 'APPROVED', 'PUBLISHED', 'RECALLED', 'SIGNED'));

ALTER TABLE quotes
    ADD COLUMN signed_at    timestamptz,
    ADD COLUMN signer_name  text,
    ADD COLUMN signer_email text;
ALTER TABLE quotes ADD CONSTRAINT quotes_signed_check CHECK (
    status <> 'SIGNED' OR (signed_at IS NOT NULL AND signer_name <> '' AND signer_email <> ''));

CREATE INDEX quotes_created ON quotes (created_at, id);
CREATE INDEX quotes_created_by ON quotes (created_by, id);
