-- The relay's drain in one round trip: stamp what committed (0016), then read the first events after
-- the relay's cursor, instead of a statement for each. Every row carries the head after the stamp; a
-- last row without an event carries it when nothing follows the cursor.
CREATE FUNCTION stamp_and_read(p_after bigint, p_limit integer)
RETURNS TABLE (head bigint, sequence bigint, type text, payload jsonb, owner_id bigint, audience bigint[],
               pipeline_id bigint, deal_id bigint, quote_id bigint, import_id bigint)
LANGUAGE plpgsql AS $$
DECLARE
    stamped bigint := stamp_events();
BEGIN
    RETURN QUERY
        SELECT stamped, e.sequence, e.type, e.payload, e.owner_id, e.audience, e.pipeline_id, e.deal_id,
               e.quote_id, e.import_id
          FROM events e WHERE e.sequence > p_after AND e.sequence <= stamped ORDER BY e.sequence LIMIT p_limit;
    RETURN QUERY SELECT stamped, NULL::bigint, NULL::text, NULL::jsonb, NULL::bigint, NULL::bigint[],
                        NULL::bigint, NULL::bigint, NULL::bigint, NULL::bigint;
END
$$;
