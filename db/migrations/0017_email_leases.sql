-- A sender leases the emails it claims instead of holding their rows locked in a transaction: a claim
-- is one statement and each email's mark another (four statements an email before: BEGIN, claim, mark,
-- COMMIT). A lease is free once it expires or the session that took it has ended (its process died),
-- as the webhooks' leases are (0011); a sender holds that session for the whole drain.
ALTER TABLE email_outbox ADD COLUMN lease_until timestamptz, ADD COLUMN lease_pid integer;
