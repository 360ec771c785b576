-- The property history holds one row per change of a record, not one per property: a change lists its
-- properties, each with its old and new value, in the order the change gave them (json keeps order;
-- jsonb would sort them). An imported contact wrote six history rows and a seventh index entry each
-- (bench/import.py: 292,000 rows for 50,000 contacts, PostgreSQL's largest cost of an import); now one.
-- `property_history` stays, as a view with the same columns and one row per property, for every
-- reader; `position` orders the properties of one change (they share its id).
CREATE TABLE record_changes (
    id          bigserial PRIMARY KEY,
    object_type text NOT NULL CHECK (object_type IN ('CONTACT', 'COMPANY', 'DEAL', 'TICKET', 'QUOTE')),
    object_id   bigint NOT NULL,
    changes     json NOT NULL,  -- {"property": [old value, new value], ...}: text or null
    source      text NOT NULL CHECK (source IN ('UI', 'API', 'IMPORT', 'WORKFLOW', 'AUTOMATION', 'FORM', 'INTEGRATION')),
    changed_by  bigint,
    changed_at  timestamptz NOT NULL DEFAULT now()
);

INSERT INTO record_changes (id, object_type, object_id, changes, source, changed_by, changed_at)
SELECT id, object_type, object_id, json_build_object(name, json_build_array(old_value, new_value)),
       source, changed_by, changed_at
  FROM property_history;
SELECT setval(pg_get_serial_sequence('record_changes', 'id'), coalesce(max(id), 0) + 1, false) FROM record_changes;
CREATE INDEX record_changes_record ON record_changes (object_type, object_id, id);
DROP TABLE property_history;

CREATE VIEW property_history AS
SELECT c.id, p.position, c.object_type, c.object_id, p.name, p.change ->> 0 AS old_value,
       p.change ->> 1 AS new_value, c.source, c.changed_by, c.changed_at
  FROM record_changes c CROSS JOIN LATERAL json_each(c.changes) WITH ORDINALITY AS p (name, change, position);
