-- A feed read in one statement instead of a transaction of four (BEGIN, the planner settings,
-- the head, the page, COMMIT). The settings are the function's own: the planner has no statistics
-- for `stream_hash % slices` and, guessing that 0.5% of the rows match, would rather read the
-- whole remaining log and sort it (1 s a batch over a million events) than walk the (xid,
-- position) index until the page is full (6 ms). The head is read first, by its own query (a
-- VOLATILE function's queries each take a fresh snapshot), so a page shorter than the limit holds
-- every matching entry up to it. Every row carries the head; an empty page is one row of NULLs
-- but the head.
CREATE FUNCTION cairn.read_feed_page(after_xid xid8, after_position bigint, types jsonb, slice_count bigint,
                                     slices bigint[], page_limit bigint)
RETURNS TABLE (head_xid text, head_position bigint, out_position bigint, out_id text, out_stream_id text,
               out_seq bigint, out_type text, out_revision int, out_payload text, out_metadata text,
               out_created_micros bigint, out_xid text)
LANGUAGE plpgsql VOLATILE
SET enable_seqscan = off
SET enable_bitmapscan = off
AS $$
DECLARE
  hx text;
  hp bigint;
BEGIN
  SELECT m.xid::text, m.position INTO hx, hp FROM cairn.messages m
  WHERE m.xid < pg_snapshot_xmin(pg_current_snapshot()) ORDER BY m.xid DESC, m.position DESC LIMIT 1;
  RETURN QUERY
    SELECT hx, hp, m.position, m.id::text, m.stream_id, m.seq, m.type, m.revision, m.payload::text, m.metadata::text,
           (extract(epoch FROM m.created_at) * 1000000)::bigint, m.xid::text
    FROM cairn.messages m
    WHERE (m.xid, m.position) > (after_xid, after_position)
      AND m.xid < pg_snapshot_xmin(pg_current_snapshot())
      AND (types = '[]'::jsonb OR m.type IN (SELECT jsonb_array_elements_text(types)))
      AND (slice_count <= 1 OR cardinality(slices) = 0 OR m.stream_hash % slice_count = ANY (slices))
    ORDER BY m.xid, m.position LIMIT page_limit;
  IF NOT FOUND THEN
    head_xid := hx;
    head_position := hp;
    RETURN NEXT;
  END IF;
END $$;
