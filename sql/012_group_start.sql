-- Where each consumer group started: events at or before this cursor are not its business (it was
-- created at the head, or after a cursor). An SQL projector's transaction refuses to record the
-- progress of a stream its runner has just met past an event of its types after the start that it
-- was never handed (a feed that skipped it; `StreamGap`), and its runner reads the stream itself
-- instead. The slices'
-- cursors cannot bound that check: they move past an event the runner never knew of as soon as
-- other streams' events after it are handled. A reset replays from the beginning: its start is 0.
ALTER TABLE cairn.consumer_groups ADD COLUMN start_xid xid8 NOT NULL DEFAULT '0',
                                  ADD COLUMN start_position bigint NOT NULL DEFAULT 0;

-- A group made before this version started at an unknown place: its slowest slice's cursor stands
-- in. An event before it is not checked (as before this version); every event after it is one the
-- group reads, so the check raises no false alarm.
UPDATE cairn.consumer_groups g
SET start_xid = coalesce((SELECT s.cursor_xid FROM cairn.group_slices s WHERE s.group_id = g.group_id
                          ORDER BY s.cursor_xid, s.cursor_position LIMIT 1), '0'),
    start_position = coalesce((SELECT s.cursor_position FROM cairn.group_slices s WHERE s.group_id = g.group_id
                               ORDER BY s.cursor_xid, s.cursor_position LIMIT 1), 0);
