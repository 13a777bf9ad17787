#include "backends/postgres/feed_health.hpp"

namespace cairn::postgres {
namespace {

// Replication slots and old snapshots hold back vacuum, not the feed: a snapshot's xmin counts only
// running transaction ids, which are backends' (backend_xid) and prepared transactions'. The
// snapshot lists (xip) the running ids below one past the newest completed one: when it lists none,
// nothing committed waits, and xmin may be the id of a transaction that starts meanwhile, so the
// join is skipped.
constexpr const char* horizon_sql =
    "WITH h AS (SELECT pg_snapshot_xmin(s) AS xmin, EXISTS (SELECT FROM pg_snapshot_xip(s)) AS held "
    "           FROM pg_current_snapshot() s) "
    "SELECT h.xmin::text, h.held, w.* FROM h LEFT JOIN LATERAL ("
    "  SELECT a.pid, '' AS gid, coalesce(a.application_name, ''), coalesce(a.state, ''), "
    "         coalesce(a.datname::text, ''), coalesce(a.usename::text, ''), "
    "         extract(epoch FROM clock_timestamp() - a.xact_start)::float8, "
    "         (extract(epoch FROM a.query_start) * 1000000)::bigint AS query_start "
    "  FROM pg_stat_activity a WHERE a.backend_xid = h.xmin::xid "
    "  UNION ALL "
    "  SELECT 0, p.gid, '', 'prepared', p.database::text, p.owner::text, "
    "         extract(epoch FROM clock_timestamp() - p.prepared)::float8, NULL "
    "  FROM pg_prepared_xacts p WHERE p.transaction = h.xmin::xid "
    "  LIMIT 1) w ON h.held";

HorizonHolder row_to_holder(const pqxx::row& r) {
  HorizonHolder holder;
  holder.pid = r[2].as<int>();
  holder.prepared_gid = r[3].c_str();
  holder.application_name = r[4].c_str();
  holder.state = r[5].c_str();
  holder.database = r[6].c_str();
  holder.user = r[7].c_str();
  holder.transaction_seconds = r[8].is_null() ? 0 : r[8].as<double>();
  if (!r[9].is_null()) holder.query_start = Timestamp(std::chrono::microseconds(r[9].as<int64_t>()));
  return holder;
}

}  // namespace

FeedHealth read_feed_health(pqxx::transaction_base& tx) {
  auto r = tx.exec1(horizon_sql);
  FeedHealth health{r[0].as<uint64_t>(), r[1].as<bool>(), std::nullopt};
  if (!r[2].is_null()) health.holder = row_to_holder(r);
  return health;
}

}  // namespace cairn::postgres
