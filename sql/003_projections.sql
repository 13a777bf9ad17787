-- State-stored projections: one JSON state per (consumer group, key), updated together with the
-- group's stream progress (docs/SCHEMA.md).
CREATE TABLE cairn.projections (
  group_id   text        NOT NULL,
  key        text        NOT NULL,
  state      jsonb       NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (group_id, key)
);
