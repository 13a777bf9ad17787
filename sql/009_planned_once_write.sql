-- cairn.write_messages in PL/pgSQL instead of SQL. PostgreSQL plans a LANGUAGE sql function's
-- body again on every call (its plan lives only as long as the calling statement), while
-- PL/pgSQL keeps its statements' plans for the session. The append's server time went from
-- ~0.70 to ~0.24 ms per call, and a c=1 command's p50 from ~2.1 to ~0.9-1.2 ms
-- (docs/BENCHMARKS.md). Same arguments, same result, same single statement.
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
  heads AS (
    INSERT INTO cairn.streams (stream_id, head_seq, updated_at)
    SELECT key, value::bigint, now() FROM jsonb_each_text(new_heads)
    ON CONFLICT (stream_id) DO UPDATE SET head_seq = excluded.head_seq, updated_at = excluded.updated_at),
  marked AS (
    INSERT INTO cairn.group_streams (group_id, stream_id, seq)
    SELECT m->>'group_id', m->>'stream_id', (m->>'seq')::bigint FROM jsonb_array_elements(marks) m
    ON CONFLICT (group_id, stream_id) DO UPDATE SET seq = greatest(cairn.group_streams.seq, excluded.seq),
    updated_at = now())
  SELECT * FROM inserted;
END $$;
