-- An append reads only its own streams' heads. Two of its queries joined the batch's JSON to
-- cairn.streams; the planner guesses 100 rows for a set-returning function, so with enable_seqscan
-- off it merge-joined them over the whole streams_pkey index, and in the careful path (where
-- enable_seqscan is on) it scanned the table: either way every head, on every append, so an append
-- slowed as streams were added (c=16 over 1000 streams: 4,378 -> 2,333 cmds/s over 5,000 streams).
-- A head is now looked up by its key (a subquery per stream, or `= ANY` over the batch's keys),
-- which no plan can turn into a scan of the others.
CREATE OR REPLACE FUNCTION cairn.append_expected(keys bigint[], expected jsonb, rows jsonb, new_heads jsonb, marks jsonb)
RETURNS TABLE (out_id text, out_position bigint, out_created_micros bigint)
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM cairn.lock_streams(keys);
  IF EXISTS (SELECT 1 FROM jsonb_each_text(expected) e
             WHERE coalesce((SELECT s.head_seq FROM cairn.streams s WHERE s.stream_id = e.key), 0)
                   <> e.value::bigint) THEN
    RETURN;
  END IF;
  RETURN QUERY SELECT * FROM cairn.write_messages(rows, new_heads, marks);
END $$;

CREATE OR REPLACE FUNCTION cairn.write_messages(rows jsonb, new_heads jsonb, marks jsonb)
RETURNS TABLE (out_id text, out_position bigint, out_created_micros bigint)
LANGUAGE plpgsql AS $$
BEGIN
  RETURN QUERY
  WITH inserted AS (
    INSERT INTO cairn.messages (id, stream_id, seq, type, revision, payload, metadata, stream_hash)
    SELECT (m->>'id')::uuid, m->>'stream_id', (m->>'seq')::bigint, m->>'type', (m->>'revision')::int,
           m->'payload', m->'metadata', (m->>'stream_hash')::bigint
    FROM jsonb_array_elements(rows) WITH ORDINALITY AS t(m, i) ORDER BY i
    RETURNING id::text, position, (extract(epoch FROM created_at) * 1000000)::bigint),
  moved AS (
    UPDATE cairn.streams s SET head_seq = (new_heads ->> s.stream_id)::bigint, updated_at = now()
    WHERE s.stream_id = ANY (ARRAY(SELECT jsonb_object_keys(new_heads)))
    RETURNING s.stream_id),
  created AS (
    INSERT INTO cairn.streams (stream_id, head_seq, updated_at)
    SELECT key, value::bigint, now() FROM jsonb_each_text(new_heads)
    WHERE key NOT IN (SELECT stream_id FROM moved)),
  marked AS (
    INSERT INTO cairn.group_streams (group_id, stream_id, seq)
    SELECT m->>'group_id', m->>'stream_id', (m->>'seq')::bigint FROM jsonb_array_elements(marks) m
    ON CONFLICT (group_id, stream_id) DO UPDATE SET seq = greatest(cairn.group_streams.seq, excluded.seq),
    updated_at = now())
  SELECT * FROM inserted;
END $$;

-- CREATE OR REPLACE dropped append_expected's setting (sql/011_append_without_id_lookup.sql). The
-- careful path calls write_messages on its own: it plans its lookups as append_expected does,
-- whichever of the two a session calls first (a session keeps the plan it made first).
ALTER FUNCTION cairn.append_expected(bigint[], jsonb, jsonb, jsonb, jsonb) SET enable_seqscan = off;
ALTER FUNCTION cairn.write_messages(jsonb, jsonb, jsonb) SET enable_seqscan = off;
