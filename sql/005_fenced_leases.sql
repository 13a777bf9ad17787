-- Fenced slice leases and stored group shapes (docs/SCHEMA.md, "Leases and fences").
--
-- Cairn's own advisory locks use the two-int4 form, which PostgreSQL keeps apart from the
-- one-bigint form of stream write locks (pg_locks.objsubid 2, not 1): no stream id can block a
-- lease. The first key names the kind of lock, the second is the slice's lease_key.
--   1129470288: a slice lease, held on a process's lease session for as long as it owns the slice
--   1129470289: a slice fence, taken by every transaction that writes the slice's progress (shared)
--               and by the one that hands the slice to a new owner (exclusive)

-- Epochs come from one sequence, so no two leases ever share one, even across a re-slicing reset.
CREATE SEQUENCE cairn.lease_epochs;
ALTER TABLE cairn.group_slices
  ADD COLUMN lease_key integer GENERATED ALWAYS AS IDENTITY UNIQUE,
  ADD COLUMN epoch bigint NOT NULL DEFAULT nextval('cairn.lease_epochs');

-- The event types the group reads (the union over the versions that ran it); NULL until a
-- process records them.
ALTER TABLE cairn.consumer_groups ADD COLUMN types jsonb;

-- Runners look for resumed streams on every round.
DROP INDEX cairn.group_streams_stopped;
CREATE INDEX group_streams_failed ON cairn.group_streams (group_id) WHERE stopped OR failed_seq IS NOT NULL;

-- Takes a slice for `who` on the calling session: the lease lock (session level, so it lives as
-- long as the session), then a new epoch under the fence: later transactions of the previous
-- owner fail their fence check. No row: another session holds the lease, or the previous owner
-- still has a transaction in flight (it has lost its session; it finds out within a second).
CREATE FUNCTION cairn.take_lease(g text, s integer, who text) RETURNS TABLE (epoch bigint, lease_key integer)
LANGUAGE plpgsql AS $$
DECLARE
  k integer;
  e bigint;
BEGIN
  SELECT gs.lease_key INTO k FROM cairn.group_slices gs WHERE gs.group_id = g AND gs.slice = s;
  IF k IS NULL THEN
    RAISE EXCEPTION 'consumer group % has no slice %', g, s USING ERRCODE = 'CL002';
  END IF;
  IF NOT pg_try_advisory_lock(1129470288, k) THEN
    RETURN;
  END IF;
  BEGIN
    IF NOT pg_try_advisory_xact_lock(1129470289, k) THEN
      PERFORM pg_advisory_unlock(1129470288, k);
      RETURN;
    END IF;
    UPDATE cairn.group_slices gs SET epoch = nextval('cairn.lease_epochs'), owner = who, updated_at = now()
      WHERE gs.group_id = g AND gs.slice = s RETURNING gs.epoch INTO e;
  EXCEPTION WHEN OTHERS THEN
    PERFORM pg_advisory_unlock(1129470288, k);
    RAISE;
  END;
  epoch := e;
  lease_key := k;
  RETURN NEXT;
END $$;

-- Gives a slice up: the lease lock (by key: a re-slicing reset may have removed the row), and
-- the owner column if the lease was still current.
CREATE FUNCTION cairn.release_lease(g text, s integer, expected bigint, k integer) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  UPDATE cairn.group_slices SET owner = NULL WHERE group_id = g AND slice = s AND epoch = expected;
  PERFORM pg_advisory_unlock(1129470288, k);
END $$;

-- Waits until no transaction writes progress of any slice of the group, and keeps it so until
-- the calling transaction ends: what a change of the group's shape runs under.
CREATE FUNCTION cairn.hold_fences(g text) RETURNS void LANGUAGE plpgsql AS $$
DECLARE k integer;
BEGIN
  FOR k IN SELECT lease_key FROM cairn.group_slices WHERE group_id = g ORDER BY slice LOOP
    PERFORM pg_advisory_xact_lock(1129470289, k);
  END LOOP;
END $$;

-- The fence check of a transaction that writes progress: `fences` is a JSON array of
-- {"g": group, "s": slice, "e": epoch}. Holds each fence (shared) until the transaction ends,
-- then reads the epoch with a fresh snapshot (each query of a VOLATILE function takes one), so
-- a new owner's epoch is seen as soon as it is committed. Returns the positions (0-based) of the
-- fences whose lease is gone.
CREATE FUNCTION cairn.stale_fences(fences jsonb) RETURNS SETOF integer LANGUAGE plpgsql AS $$
DECLARE
  f jsonb;
  i integer := 0;
  k integer;
BEGIN
  FOR f IN SELECT value FROM jsonb_array_elements(fences) LOOP
    SELECT lease_key INTO k FROM cairn.group_slices WHERE group_id = f->>'g' AND slice = (f->>'s')::integer;
    IF k IS NOT NULL THEN
      PERFORM pg_advisory_xact_lock_shared(1129470289, k);
    END IF;
    IF k IS NULL OR NOT EXISTS (SELECT 1 FROM cairn.group_slices WHERE group_id = f->>'g'
                                AND slice = (f->>'s')::integer AND epoch = (f->>'e')::bigint) THEN
      RETURN NEXT i;
    END IF;
    i := i + 1;
  END LOOP;
END $$;

-- The same for one fence, failing the transaction (SQLSTATE CL001) when the lease is gone.
CREATE FUNCTION cairn.check_fence(g text, s integer, e bigint) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM cairn.stale_fences(jsonb_build_array(jsonb_build_object('g', g, 's', s, 'e', e)))) THEN
    RAISE EXCEPTION 'the lease on slice % of consumer group % was lost (another process owns it now)', s, g
      USING ERRCODE = 'CL001';
  END IF;
END $$;
