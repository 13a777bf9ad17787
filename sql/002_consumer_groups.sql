-- Consumer groups: per-group state, per-slice cursors and per-stream progress (docs/SCHEMA.md).

CREATE TABLE cairn.consumer_groups (
  group_id    text        PRIMARY KEY,
  status      text        NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'stopped')),
  slice_count integer     NOT NULL CHECK (slice_count > 0),
  -- Bumped by a reset: runners that see a new generation reload their cursors.
  generation  bigint      NOT NULL DEFAULT 1,
  -- Events at or before this cursor are re-deliveries after a reset (`replaying`).
  replay_xid  xid8        NOT NULL DEFAULT '0',
  replay_position bigint  NOT NULL DEFAULT 0,
  updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE cairn.group_slices (
  group_id        text        NOT NULL REFERENCES cairn.consumer_groups ON DELETE CASCADE,
  slice           integer     NOT NULL,
  cursor_xid      xid8        NOT NULL DEFAULT '0',
  cursor_position bigint      NOT NULL DEFAULT 0,
  owner           text,
  updated_at      timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (group_id, slice)
);

-- The last handled seq of each stream per group, and streams stopped by a failing handler.
CREATE TABLE cairn.group_streams (
  group_id   text        NOT NULL REFERENCES cairn.consumer_groups ON DELETE CASCADE,
  stream_id  text        NOT NULL,
  seq        bigint      NOT NULL DEFAULT 0,
  stopped    boolean     NOT NULL DEFAULT false,
  failed_seq bigint,
  message_id uuid,
  error      text,
  attempts   integer     NOT NULL DEFAULT 0,
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (group_id, stream_id)
);
CREATE INDEX group_streams_stopped ON cairn.group_streams (group_id) WHERE stopped;
