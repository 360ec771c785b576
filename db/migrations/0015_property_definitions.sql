-- Custom properties defined per object type by super admins (DESIGN 3); values are checked on every write.
CREATE TABLE property_definitions (
    id          bigserial PRIMARY KEY,
    object_type text NOT NULL CHECK (object_type IN ('CONTACT', 'COMPANY', 'DEAL', 'TICKET')),
    name        text NOT NULL,
    label       text NOT NULL,
    type        text NOT NULL CHECK (type IN ('STRING', 'NUMBER', 'DATE', 'BOOLEAN', 'ENUMERATION', 'USER')),
    options     jsonb NOT NULL DEFAULT '[]',
    description text,
    created_by  bigint REFERENCES users (id),
    created_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT property_definitions_name UNIQUE (object_type, name)
);
