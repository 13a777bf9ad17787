-- An append in one round trip, for the common case: every request expects an exact head, and
-- none carries a fenced mark. Called outside a transaction block, so the statement is the whole
-- transaction (no BEGIN or COMMIT round trips). It locks the streams (in key order, as every
-- append does), and writes only if every stream is at the head its request expects and no id is
-- stored yet; otherwise it writes nothing and returns no row, and the caller decides request by
-- request in a transaction (sql/004_append_round_trips.sql). `expected`: {stream_id: head};
-- `rows`, `new_heads` and `marks` as the store's two-round-trip write takes them.
-- The write itself, shared with the two-round-trip path: the rows (positions follow their
-- order), the new stream heads and the consumer marks, in one statement.
CREATE FUNCTION cairn.write_messages(rows jsonb, new_heads jsonb, marks jsonb)
RETURNS TABLE (out_id text, out_position bigint, out_created_micros bigint)
LANGUAGE sql AS $$
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
  SELECT * FROM inserted
$$;

CREATE FUNCTION cairn.append_expected(keys bigint[], expected jsonb, rows jsonb, new_heads jsonb, marks jsonb)
RETURNS TABLE (out_id text, out_position bigint, out_created_micros bigint)
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM cairn.lock_streams(keys);
  IF EXISTS (SELECT 1 FROM jsonb_each_text(expected) e LEFT JOIN cairn.streams s ON s.stream_id = e.key
             WHERE coalesce(s.head_seq, 0) <> e.value::bigint)
     OR EXISTS (SELECT 1 FROM cairn.messages m
                WHERE m.id = ANY (ARRAY(SELECT (r->>'id')::uuid FROM jsonb_array_elements(rows) r))) THEN
    RETURN;
  END IF;
  RETURN QUERY SELECT * FROM cairn.write_messages(rows, new_heads, marks);
END $$;
