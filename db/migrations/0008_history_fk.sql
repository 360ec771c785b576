-- Property history is an append-only log written in bulk (imports write ~6 rows per record). Users
-- are deactivated, never deleted, so the foreign key on changed_by protected nothing and cost ~40% of
-- a history COPY (measured by bench/import.py).
ALTER TABLE property_history DROP CONSTRAINT IF EXISTS property_history_changed_by_fkey;
