#include "backends/postgres/cluster_xids.hpp"

#include "backends/postgres/connect.hpp"
#include <cairn/errors.hpp>

namespace cairn::postgres {
namespace {

// The highest transaction id stored anywhere Cairn orders by one, and one past the newest id this
// cluster has completed: every committed row it wrote has an id below that. The log's maximum
// comes from the (xid, position) index.
constexpr const char* stored_and_xmax_sql =
    "SELECT coalesce(greatest((SELECT xid FROM cairn.messages ORDER BY xid DESC LIMIT 1), "
    "                         (SELECT max(cursor_xid) FROM cairn.group_slices), "
    "                         (SELECT max(replay_xid) FROM cairn.consumer_groups)), '0')::text, "
    "       pg_snapshot_xmax(pg_current_snapshot())::text";

struct XidRange {
  uint64_t stored = 0;
  uint64_t xmax = 0;
  bool ahead() const { return stored >= xmax; }
};

XidRange stored_and_xmax(pqxx::transaction_base& tx) {
  auto r = tx.exec1(stored_and_xmax_sql);
  return {r[0].as<uint64_t>(), r[1].as<uint64_t>()};
}

std::string foreign_xids_error(const XidRange& range) {
  return "this database holds transaction id " + std::to_string(range.stored) +
         " but its PostgreSQL cluster has only reached " + std::to_string(range.xmax) +
         ": it was restored from another cluster (pg_dump, logical replication), whose transaction ids mean "
         "nothing here. Consumer groups would not see the restored events and would skip new ones, so Cairn "
         "refuses to open it. Stop every worker, then run `cairn repair-xids` (see \"Moving a log to another "
         "cluster\" in docs/SCHEMA.md)";
}

// Every renumbered row gets this id. It is below any id a cluster assigns (normal ids start at 3),
// so the restored log sorts before every later append, and within itself by position: that order
// keeps each stream's seq order, since an append locks its stream before taking positions.
#define CAIRN_RESTORED_XID "'1'"

// A cursor has passed every event before the first one after it in the old (xid, position) order;
// in position order those are the events before that one's position. Events in between come
// again, and the groups' per-stream marks skip them. A cursor with nothing after it passed all.
#define CAIRN_FIRST_AFTER(cursor_xid, cursor_position, slice_filter)                                      \
  "coalesce((SELECT min(m.position) - 1 FROM cairn.messages m WHERE (m.xid, m.position) > (" cursor_xid \
  ", " cursor_position ")" slice_filter "), (SELECT coalesce(max(position), 0) FROM cairn.messages))"

constexpr const char* move_slice_cursors =
    "UPDATE cairn.group_slices s SET cursor_xid = " CAIRN_RESTORED_XID ", updated_at = now(), cursor_position = "
    CAIRN_FIRST_AFTER("s.cursor_xid", "s.cursor_position", " AND m.stream_hash % g.slice_count = s.slice")
    " FROM cairn.consumer_groups g WHERE g.group_id = s.group_id";

// Past the new replay cursor, some re-deliveries of a running reset lose their `replaying` flag
// (at-least-once side effects run again) rather than new events gaining it (and being suppressed).
constexpr const char* move_replay_cursors =
    "UPDATE cairn.consumer_groups SET replay_xid = " CAIRN_RESTORED_XID ", updated_at = now(), replay_position = "
    CAIRN_FIRST_AFTER("replay_xid", "replay_position", "");

// A group's start moves to the last event at or before it: none of those comes after it, and an
// event after the old start that sorts before the new one escapes the skipped-event check (it is
// not taken for one the group must have read).
constexpr const char* move_start_cursors =
    "UPDATE cairn.consumer_groups SET start_xid = " CAIRN_RESTORED_XID ", updated_at = now(), start_position = "
    "(SELECT coalesce(max(m.position), 0) FROM cairn.messages m WHERE (m.xid, m.position) <= (start_xid, start_position))";

constexpr const char* renumber_messages = "UPDATE cairn.messages SET xid = " CAIRN_RESTORED_XID;

// Writers and runners must not move rows or cursors while they are renumbered.
void lock_log(pqxx::work& tx) {
  tx.exec0("SET LOCAL lock_timeout = '10s'");
  try {
    tx.exec0("LOCK TABLE cairn.messages, cairn.group_slices, cairn.consumer_groups IN EXCLUSIVE MODE");
  } catch (const pqxx::sql_error& e) {
    if (e.sqlstate() != "55P03") throw;  // lock_not_available
    throw StoreError("the log is in use (no lock within 10 s): stop every worker and writer, then repair");
  }
}

}  // namespace

void require_own_xids(pqxx::transaction_base& tx) {
  auto range = stored_and_xmax(tx);
  if (range.ahead()) throw StoreError(foreign_xids_error(range));
}

std::optional<XidRepair> repair_xids(const std::string& database_url) {
  try {
    auto connection = connect(database_url);
    pqxx::work tx(*connection);
    lock_log(tx);
    if (!stored_and_xmax(tx).ahead()) return std::nullopt;
    auto slices = tx.exec0(move_slice_cursors).affected_rows();
    auto replays = tx.exec0(move_replay_cursors).affected_rows();
    auto starts = tx.exec0(move_start_cursors).affected_rows();
    auto messages = tx.exec0(renumber_messages).affected_rows();  // last: the cursors map from the old ids
    tx.commit();
    return XidRepair{static_cast<int64_t>(messages), static_cast<int64_t>(slices + replays + starts)};
  } catch (const pqxx::failure& e) {
    throw StoreError(std::string("repairing transaction ids failed: ") + e.what());
  }
}

}  // namespace cairn::postgres
