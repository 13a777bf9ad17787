-- A due scheduled message that cannot enter its stream (its id is already in another stream, it
-- no longer passes validation, its row cannot be read) is kept with the reason instead of being
-- dropped, and is never promoted again (docs/SCHEMA.md, `cairn.scheduled_messages`).
ALTER TABLE cairn.scheduled_messages ADD COLUMN error text;

-- Promoters look only at deliverable rows.
DROP INDEX cairn.scheduled_messages_due;
CREATE INDEX scheduled_messages_due ON cairn.scheduled_messages (due_at, id) WHERE error IS NULL;
