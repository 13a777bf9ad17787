-- Consumer group membership: the processes that share a group's slices (docs/SCHEMA.md, "Leases
-- and fences"). A process joins a group by holding a shared advisory lock on its lease session:
--   1129470290: group membership, keyed by the group's member_key
-- so the members are the sessions that hold it, and a process that dies leaves with its session.
-- Each member takes its fair share of the slices and gives up what it holds beyond it.
ALTER TABLE cairn.consumer_groups ADD COLUMN member_key integer GENERATED ALWAYS AS IDENTITY UNIQUE;

-- The members of a group and the live owner of each of its slices ('' when the slice is free).
CREATE FUNCTION cairn.group_census(g text) RETURNS TABLE (members bigint, slice integer, owner text)
LANGUAGE sql STABLE AS $$
  WITH locks AS (
    SELECT classid, objid FROM pg_locks
    WHERE locktype = 'advisory' AND granted AND objsubid = 2
      AND database = (SELECT oid FROM pg_database WHERE datname = current_database()))
  SELECT (SELECT count(*) FROM locks l WHERE l.classid = 1129470290::oid AND l.objid = cg.member_key::oid),
         s.slice,
         CASE WHEN EXISTS (SELECT 1 FROM locks l WHERE l.classid = 1129470288::oid AND l.objid = s.lease_key::oid)
              THEN coalesce(s.owner, '') ELSE '' END
  FROM cairn.consumer_groups cg JOIN cairn.group_slices s USING (group_id)
  WHERE cg.group_id = g ORDER BY s.slice
$$;
