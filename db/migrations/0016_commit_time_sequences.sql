-- Outbox sequences are handed out after commit, by one stamper at a time, instead of at append under a
-- lock on event_head held to the end of the appending transaction's commit (bench/outbox.py: 32
-- concurrent writers ran at 15-22% of their speed without the append; every commit's WAL flush waited
-- for the one before it).
--
-- An appended event carries a provisional negative sequence (event_pending) and is invisible to
-- readers, who ask for sequences above a positive one. stamp_events() (the relay calls it whenever
-- it wakes: a local commit, the NOTIFY every appending commit sends, or its poll) takes every committed
-- provisional event in append order and gives it the next sequence, in one statement, under an
-- advisory lock so that stampers in several processes take turns. Sequences stay gap-free and a reader
-- never sees sequence n+1 before n: a stamp commits its whole range at once, stamps follow each
-- other, and provisional rows of transactions still in flight are left to the next stamp.
CREATE SEQUENCE event_pending AS bigint;

CREATE FUNCTION stamp_events() RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    head bigint;
    last bigint;
BEGIN
    PERFORM pg_advisory_xact_lock(7362010003);  -- one stamper at a time (subscriptions/relay.py)
    SELECT sequence INTO head FROM event_head;
    WITH pending AS (
        SELECT sequence AS provisional, row_number() OVER (ORDER BY sequence DESC) AS position
          FROM events WHERE sequence < 0
    ), stamped AS (
        UPDATE events e SET sequence = head + p.position
          FROM pending p WHERE e.sequence = p.provisional
        RETURNING e.sequence
    )
    SELECT max(sequence) INTO last FROM stamped;
    IF last IS NULL THEN
        RETURN head;
    END IF;
    UPDATE event_head SET sequence = last;
    PERFORM pg_notify('dealflow_events', last::text);  -- db/events.py EVENTS_CHANNEL: readers, wake up
    RETURN last;
END
$$;
