-- The append-only log, stream heads, snapshots and scheduled messages (docs/SCHEMA.md explains each).

CREATE TABLE cairn.messages (
  position    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  id          uuid        NOT NULL UNIQUE,
  stream_id   text        NOT NULL,
  seq         bigint      NOT NULL CHECK (seq > 0),
  type        text        NOT NULL,
  revision    integer     NOT NULL DEFAULT 1,
  payload     jsonb       NOT NULL,
  metadata    jsonb       NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  -- The writing transaction: the feed reads only below the oldest running one (see SCHEMA.md).
  xid         xid8        NOT NULL DEFAULT pg_current_xact_id(),
  stream_hash bigint      NOT NULL,
  UNIQUE (stream_id, seq)
);
CREATE INDEX messages_feed ON cairn.messages (xid, position);
CREATE INDEX messages_correlation ON cairn.messages ((metadata ->> 'correlation_id'));

CREATE TABLE cairn.streams (
  stream_id  text        PRIMARY KEY,
  head_seq   bigint      NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX streams_recent ON cairn.streams (updated_at DESC);

CREATE TABLE cairn.snapshots (
  stream_id      text        PRIMARY KEY,
  seq            bigint      NOT NULL,
  state_revision integer     NOT NULL,
  state          jsonb       NOT NULL,
  created_at     timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE cairn.scheduled_messages (
  id        uuid        PRIMARY KEY,
  stream_id text        NOT NULL,
  due_at    timestamptz NOT NULL,
  message   jsonb       NOT NULL
);
CREATE INDEX scheduled_messages_due ON cairn.scheduled_messages (due_at, id);

-- Takes the per-stream write locks in the order given (callers sort), before the transaction
-- writes anything: a transaction gets its xid only after it holds every stream it appends to,
-- so two appends to one stream can never commit with xids in the opposite order of their seqs.
CREATE FUNCTION cairn.lock_streams(keys bigint[]) RETURNS void LANGUAGE plpgsql AS $$
DECLARE k bigint;
BEGIN
  FOREACH k IN ARRAY keys LOOP
    PERFORM pg_advisory_xact_lock(k);
  END LOOP;
END $$;
