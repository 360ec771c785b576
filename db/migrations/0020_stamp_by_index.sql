-- stamp_events() (0016) found the pending events with a sequential scan of the whole outbox: its plan
-- is made once per session, when the table is small or its statistics say `sequence < 0` matches a
-- third of it, and kept; and it joined them back to the outbox by hashing every event. Every commit
-- wakes a stamp and the outbox holds OUTBOX_HORIZON_DAYS of events, so each stamp cost what the
-- outbox holds (2 ms a call at 4,000 events in bench/approvals.py, a third of PostgreSQL's time
-- there). Pending events now have an index of their own, read in append order into an array, and
-- stamped one index probe each. The stamp's statements are planned without sequential scans, whatever
-- the statistics say, and without bitmap scans (a plain index scan marks the entries of stamped
-- events dead, so the next stamp skips them); and without JIT, which a plan that had to avoid a
-- sequential scan (event_head's one row) would cost enough to trigger (5 ms a call). A stamp costs
-- what is pending.
CREATE INDEX events_pending ON events (sequence) WHERE sequence < 0;

CREATE OR REPLACE FUNCTION stamp_events() RETURNS bigint LANGUAGE plpgsql
    SET enable_seqscan = off SET enable_bitmapscan = off SET jit = off AS $$
DECLARE
    head bigint;
    last bigint;
    pending bigint[];
BEGIN
    PERFORM pg_advisory_xact_lock(7362010003);  -- one stamper at a time (subscriptions/relay.py)
    SELECT ARRAY(SELECT sequence FROM events WHERE sequence < 0 ORDER BY sequence DESC) INTO pending;
    SELECT sequence INTO head FROM event_head;
    IF cardinality(pending) = 0 THEN
        RETURN head;
    END IF;
    UPDATE events e SET sequence = head + p.position  -- the first appended (-1, -2, …) first
      FROM unnest(pending) WITH ORDINALITY AS p (provisional, position)
     WHERE e.sequence = p.provisional;
    last := head + cardinality(pending);
    UPDATE event_head SET sequence = last;
    PERFORM pg_notify('dealflow_events', last::text);  -- db/events.py EVENTS_CHANNEL: readers, wake up
    RETURN last;
END
$$;

ALTER FUNCTION stamp_and_read(bigint, integer) SET enable_seqscan = off;  -- its read, likewise (0018)
ALTER FUNCTION stamp_and_read(bigint, integer) SET jit = off;
