-- Appends in fewer round trips. One call locks the batch's streams (in key order, as
-- cairn.lock_streams does) and only then reads their heads: each query of a VOLATILE function
-- takes a fresh snapshot, so the heads are those the previous lock holder committed. The same call
-- returns the messages already stored under the batch's ids (for idempotent appends); a
-- concurrent insert of one of them is caught by the primary key and retried by the store.
-- Rows: a head (out_id NULL; out_stream_id, out_head_seq) or a stored message (out_head_seq NULL).
CREATE FUNCTION cairn.lock_for_append(keys bigint[], stream_ids jsonb, ids jsonb)
RETURNS TABLE (out_position bigint, out_id text, out_stream_id text, out_seq bigint, out_type text,
               out_revision int, out_payload text, out_metadata text, out_created_micros bigint, out_xid text,
               out_head_seq bigint)
LANGUAGE plpgsql AS $$
DECLARE k bigint;
BEGIN
  FOREACH k IN ARRAY keys LOOP
    PERFORM pg_advisory_xact_lock(k);
  END LOOP;
  RETURN QUERY
    SELECT NULL::bigint, NULL::text, s.stream_id, NULL::bigint, NULL::text, NULL::int, NULL::text, NULL::text,
           NULL::bigint, NULL::text, s.head_seq
    FROM cairn.streams s
    WHERE s.stream_id = ANY (ARRAY(SELECT jsonb_array_elements_text(stream_ids)));
  RETURN QUERY
    SELECT m.position, m.id::text, m.stream_id, m.seq, m.type, m.revision, m.payload::text, m.metadata::text,
           (extract(epoch FROM m.created_at) * 1000000)::bigint, m.xid::text, NULL::bigint
    FROM cairn.messages m
    WHERE m.id = ANY (ARRAY(SELECT jsonb_array_elements_text(ids)::uuid));
END $$;
