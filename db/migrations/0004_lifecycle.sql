-- Lifecycle stage automation settings, and the deal-won dates on contacts and companies.

CREATE TABLE lifecycle_settings (
    id                       boolean PRIMARY KEY DEFAULT true CHECK (id),
    default_stage_on_create  text,
    stage_on_deal_created    text DEFAULT 'OPPORTUNITY',
    stage_on_deal_won        text DEFAULT 'CUSTOMER',
    sync_company_to_contacts boolean NOT NULL DEFAULT true,
    updated_at               timestamptz NOT NULL DEFAULT now()
);
INSERT INTO lifecycle_settings DEFAULT VALUES;

ALTER TABLE contacts ADD COLUMN close_date timestamptz, ADD COLUMN days_to_close integer;
ALTER TABLE companies ADD COLUMN close_date timestamptz, ADD COLUMN days_to_close integer;
CREATE INDEX contact_companies_primary ON contact_companies (company_id) WHERE is_primary;
