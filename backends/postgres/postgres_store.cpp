#include "backends/postgres/postgres_store.hpp"

#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <unordered_map>

#include <uuid/uuid.h>

#include "backends/append_rules.hpp"
#include "backends/group_shape.hpp"
#include "backends/postgres/cluster_xids.hpp"
#include "backends/postgres/feed_health.hpp"
#include "backends/postgres/migrations.hpp"
#include "backends/postgres/stored_json.hpp"
#include <cairn/errors.hpp>

namespace cairn {
namespace {

// Timestamps cross the wire as microseconds since the epoch, exactly.
#define CAIRN_FROM_MICROS(p) "('epoch'::timestamptz + " p "::bigint * interval '1 microsecond')"
#define CAIRN_MICROS(column) "(extract(epoch FROM " column ") * 1000000)::bigint"
// The same for a message's created_at, in a fifth of the server's time: extract's numeric
// arithmetic was ~0.2 us a row of a feed read. Through a float8 it is exact within 2^32 s of
// 1970 (the quotient's and the product's rounding errors stay under half a microsecond), and
// created_at is an append's time.
#define CAIRN_CREATED_MICROS "(date_part('epoch', created_at) * 1000000)::bigint"

// The columns every message read selects, in the order row_to_message expects. The text casts
// get their own names: an ORDER BY xid must sort the xid8 column, not its text.
#define CAIRN_MESSAGE_COLUMNS                                                                     \
  "position, id::text AS id_text, stream_id, seq, type, revision, payload::text, metadata::text, " \
  CAIRN_CREATED_MICROS ", xid::text AS xid_text"

#define CAIRN_READ_STREAM                                                                                 \
  "SELECT " CAIRN_MESSAGE_COLUMNS " FROM cairn.messages WHERE stream_id = $1 AND seq > $2 AND seq <= $3 " \
  "AND created_at <= " CAIRN_FROM_MICROS("$4") " ORDER BY seq"

void prepare_statements(pqxx::connection& c) {
  c.prepare("lock_streams", "SELECT cairn.lock_streams($1::bigint[])");
  // Key lists arrive as JSON arrays and are matched with `= ANY (ARRAY(...))`, not `IN (SELECT
  // ...)`: the planner guesses 100 rows for a set-returning function, so the IN form can turn
  // into a hash join over a whole table (every stream, on every append) or, on stale statistics,
  // a nested loop re-reading the list per row. ANY over an array is always an index lookup.
  // An append's first round trip after BEGIN: stream locks, then heads and already-stored ids
  // (sql/004_append_round_trips.sql).
  c.prepare("lock_for_append", "SELECT * FROM cairn.lock_for_append($1::bigint[], $2::jsonb, $3::jsonb)");
  // Its second: the rows, the new stream heads and the consumer marks in one statement.
  c.prepare("write", "SELECT * FROM cairn.write_messages($1::jsonb, $2::jsonb, $3::jsonb)");
  // The common case in one round trip, outside a transaction block (sql/008_one_round_trip_append.sql,
  // sql/011_append_without_id_lookup.sql).
  c.prepare("append_expected",
            "SELECT * FROM cairn.append_expected($1::bigint[], $2::jsonb, $3::jsonb, $4::jsonb, $5::jsonb)");
  // A range of a stream: whole (an append under the stream's lock reads what it missed), or its first $5.
  c.prepare("read_stream", CAIRN_READ_STREAM);
  c.prepare("read_stream_page", CAIRN_READ_STREAM " LIMIT $5");
  c.prepare("head", "SELECT head_seq FROM cairn.streams WHERE stream_id = $1");
  c.prepare("find", "SELECT " CAIRN_MESSAGE_COLUMNS " FROM cairn.messages WHERE id = $1::uuid");
  // A page of the feed and the head, under one snapshot: only transactions older than every
  // running one are final, nothing can commit below that horizon, so a page shorter than the limit
  // holds every matching entry up to the head. The head comes first, as a row of its own with a
  // NULL id (UNION ALL's branches are read in order: this transaction plans no parallel Append),
  // so the page's rows carry only their own columns. A plain statement, not cairn.read_feed_page
  // (sql/010_one_statement_feed_read.sql, kept for the builds before this one): a PL/pgSQL
  // function's rows are copied into a tuplestore before they are sent, a quarter of PostgreSQL's
  // CPU in a catch-up (5.0 -> 3.8 s per million events).
  c.prepare("feed_page",
            "(SELECT position, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, xid::text AS xid_text FROM cairn.messages "
            "  WHERE xid < pg_snapshot_xmin(pg_current_snapshot()) ORDER BY xid DESC, position DESC LIMIT 1) "
            "UNION ALL "
            "(SELECT " CAIRN_MESSAGE_COLUMNS " FROM cairn.messages "
            "  WHERE (xid, position) > ($1::xid8, $2::bigint) AND xid < pg_snapshot_xmin(pg_current_snapshot()) "
            "    AND ($3::jsonb = '[]'::jsonb OR type IN (SELECT jsonb_array_elements_text($3::jsonb))) "
            "    AND ($4::bigint <= 1 OR cardinality($5::bigint[]) = 0 OR stream_hash % $4::bigint = ANY ($5::bigint[])) "
            "  ORDER BY xid, position LIMIT $6::bigint)");
  // The correlation index leaves out root messages (their correlation id is their own id, see
  // sql/013): the trail's root is found by its id ($3, NULL when the trail's id is not an id's text).
  c.prepare("correlation", "SELECT " CAIRN_MESSAGE_COLUMNS " FROM ("
                           "  SELECT * FROM cairn.messages "
                           "  WHERE metadata->>'correlation_id' = $1 AND metadata->>'correlation_id' <> id::text "
                           "  UNION ALL "
                           "  SELECT * FROM cairn.messages WHERE id = $3::uuid AND metadata->>'correlation_id' = $1"
                           ") m ORDER BY position LIMIT $2");
  c.prepare("save_snapshot",
            "INSERT INTO cairn.snapshots (stream_id, seq, state_revision, state) VALUES ($1, $2, $3, $4::jsonb) "
            "ON CONFLICT (stream_id) DO UPDATE SET seq = excluded.seq, state_revision = excluded.state_revision, "
            "state = excluded.state, created_at = now() WHERE cairn.snapshots.seq <= excluded.seq");
  c.prepare("load_snapshot", "SELECT seq, state_revision, state::text FROM cairn.snapshots WHERE stream_id = $1");
  c.prepare("schedule",
            "INSERT INTO cairn.scheduled_messages (id, stream_id, due_at, message) "
            "VALUES ($1::uuid, $2, " CAIRN_FROM_MICROS("$3") ", $4::jsonb) ON CONFLICT (id) DO NOTHING");
  // Undeliverable rows (error set) are kept for an operator and never promoted again.
  c.prepare("due", "SELECT DISTINCT stream_id FROM (SELECT stream_id FROM cairn.scheduled_messages WHERE due_at <= "
                   CAIRN_FROM_MICROS("$1") " AND error IS NULL ORDER BY due_at, id LIMIT $2) d");
  // The DELETE is the claim: of two promoters, the one that deletes a row appends it.
  c.prepare("claim_due", "DELETE FROM cairn.scheduled_messages WHERE id IN (SELECT id FROM cairn.scheduled_messages "
                         "WHERE due_at <= " CAIRN_FROM_MICROS("$1") " AND error IS NULL AND stream_id IN "
                         "(SELECT jsonb_array_elements_text($2::jsonb)) ORDER BY due_at, id LIMIT $3) "
                         "RETURNING id::text, stream_id, " CAIRN_MICROS("due_at") ", message::text");
  c.prepare("keep_undeliverable", "INSERT INTO cairn.scheduled_messages (id, stream_id, due_at, message, error) "
                                  "VALUES ($1::uuid, $2, " CAIRN_FROM_MICROS("$3") ", $4::jsonb, $5)");
  c.prepare("undeliverable", "SELECT id::text, stream_id, " CAIRN_MICROS("due_at") ", error "
                             "FROM cairn.scheduled_messages WHERE error IS NOT NULL ORDER BY due_at, id LIMIT $1");
  c.prepare("schedule_summary", "SELECT count(*), " CAIRN_MICROS("min(due_at)") " FROM cairn.scheduled_messages "
                                "WHERE error IS NULL");
  c.prepare("marks",
            "INSERT INTO cairn.group_streams (group_id, stream_id, seq) "
            "SELECT m->>'group_id', m->>'stream_id', (m->>'seq')::bigint FROM jsonb_array_elements($1::jsonb) m "
            "ON CONFLICT (group_id, stream_id) DO UPDATE SET seq = greatest(cairn.group_streams.seq, excluded.seq), "
            "updated_at = now()");
  // The newest cursor below the horizon: everything at or before it is final.
  c.prepare("head_cursor", "SELECT xid::text AS xid_text, position FROM cairn.messages "
                           "WHERE xid < pg_snapshot_xmin(pg_current_snapshot()) ORDER BY xid DESC, position DESC LIMIT 1");
  c.prepare("insert_group", "INSERT INTO cairn.consumer_groups (group_id, slice_count) VALUES ($1, $2) "
                            "ON CONFLICT (group_id) DO NOTHING");
  // The slices start where the group does (sql/012_group_start.sql).
  c.prepare("insert_slices", "WITH started AS (UPDATE cairn.consumer_groups SET start_xid = $3::xid8, "
                             "start_position = $4 WHERE group_id = $1) "
                             "INSERT INTO cairn.group_slices (group_id, slice, cursor_xid, cursor_position) "
                             "SELECT $1, s, $3::xid8, $4 FROM generate_series(0, $2 - 1) s ON CONFLICT DO NOTHING");
#define CAIRN_GROUP_COLUMNS \
  "group_id, status, slice_count, generation, replay_xid::text, replay_position, coalesce(types, '[]')::text"
  c.prepare("group", "SELECT " CAIRN_GROUP_COLUMNS " FROM cairn.consumer_groups WHERE group_id = $1");
  c.prepare("group_for_update", "SELECT " CAIRN_GROUP_COLUMNS " FROM cairn.consumer_groups WHERE group_id = $1 FOR UPDATE");
  c.prepare("groups", "SELECT " CAIRN_GROUP_COLUMNS " FROM cairn.consumer_groups ORDER BY group_id");
  // Leases and fences (sql/005_fenced_leases.sql).
  c.prepare("check_fence", "SELECT cairn.check_fence($1, $2, $3)");
  c.prepare("stale_fences", "SELECT * FROM cairn.stale_fences($1::jsonb)");
  c.prepare("hold_fences", "SELECT cairn.hold_fences($1)");
  c.prepare("store_types", "UPDATE cairn.consumer_groups SET types = $2::jsonb, generation = generation + $3, "
                           "updated_at = now() WHERE group_id = $1");
  // Events of these types that a cursor of the group has already passed.
  c.prepare("passed_types",
            "SELECT count(*) FROM cairn.messages m JOIN cairn.group_slices s "
            "ON s.group_id = $1 AND s.slice = m.stream_hash % $2 "
            "WHERE m.type = ANY (ARRAY(SELECT jsonb_array_elements_text($3::jsonb))) "
            "AND (m.xid, m.position) <= (s.cursor_xid, s.cursor_position)");
  c.prepare("reslice", "UPDATE cairn.consumer_groups SET slice_count = $2 WHERE group_id = $1");
  c.prepare("drop_slices", "DELETE FROM cairn.group_slices WHERE group_id = $1");
  c.prepare("load_cursor", "SELECT cursor_xid::text, cursor_position FROM cairn.group_slices "
                           "WHERE group_id = $1 AND slice = $2");
  c.prepare("save_cursor", "UPDATE cairn.group_slices s SET cursor_xid = $4::xid8, cursor_position = $5, "
                           "updated_at = now() FROM cairn.consumer_groups g WHERE s.group_id = $1 AND s.slice = $2 "
                           "AND g.group_id = s.group_id AND g.generation = $3");
#define CAIRN_PROGRESS_COLUMNS \
  "stream_id, seq, stopped, coalesce(failed_seq, 0), coalesce(message_id::text, ''), coalesce(error, ''), attempts"
  c.prepare("cursor_passed",
            "SELECT (m.xid, m.position) <= (s.cursor_xid, s.cursor_position) FROM cairn.messages m "
            "JOIN cairn.consumer_groups g ON g.group_id = $1 "
            "JOIN cairn.group_slices s ON s.group_id = g.group_id AND s.slice = m.stream_hash % g.slice_count "
            "WHERE m.stream_id = $2 AND m.seq = $3");
  c.prepare("load_progress", "SELECT " CAIRN_PROGRESS_COLUMNS " FROM cairn.group_streams WHERE group_id = $1 "
                             "AND stream_id = ANY (ARRAY(SELECT jsonb_array_elements_text($2::jsonb)))");
  c.prepare("failed_streams", "SELECT " CAIRN_PROGRESS_COLUMNS " FROM cairn.group_streams WHERE group_id = $1 "
                              "AND (stopped OR failed_seq IS NOT NULL) ORDER BY stream_id");
  c.prepare("stop_stream",
            "INSERT INTO cairn.group_streams (group_id, stream_id, stopped, failed_seq, message_id, error, attempts, seq) "
            "VALUES ($1, $2, true, $3, $4::uuid, $5, $6, $7) ON CONFLICT (group_id, stream_id) DO UPDATE SET "
            "stopped = true, seq = greatest(cairn.group_streams.seq, excluded.seq), failed_seq = excluded.failed_seq, "
            "message_id = excluded.message_id, "
            "error = excluded.error, attempts = excluded.attempts, updated_at = now()");
  c.prepare("resume_stream", "UPDATE cairn.group_streams SET stopped = false, attempts = 0, "
                             "seq = CASE WHEN $3 THEN greatest(seq, failed_seq) ELSE seq END, updated_at = now() "
                             "WHERE group_id = $1 AND stream_id = $2 AND stopped");
  c.prepare("clear_failure", "UPDATE cairn.group_streams SET failed_seq = NULL, message_id = NULL, error = NULL "
                             "WHERE group_id = $1 AND stream_id = $2 AND NOT stopped");
  c.prepare("set_group_status", "UPDATE cairn.consumer_groups SET status = $2, updated_at = now() WHERE group_id = $1");
  c.prepare("reset_group", "UPDATE cairn.consumer_groups SET generation = generation + 1, replay_xid = $2::xid8, "
                           "replay_position = $3, start_xid = '0', start_position = 0, updated_at = now() "
                           "WHERE group_id = $1");
  c.prepare("reset_slices", "UPDATE cairn.group_slices SET cursor_xid = '0', cursor_position = 0, updated_at = now() "
                            "WHERE group_id = $1");
  c.prepare("reset_streams", "DELETE FROM cairn.group_streams WHERE group_id = $1");
  c.prepare("slice_status",
            // The owner only while its lease lock is held: a dead or departed process owns nothing.
            "SELECT s.slice, s.cursor_xid::text, s.cursor_position, "
            "CASE WHEN EXISTS (SELECT 1 FROM pg_locks l WHERE l.locktype = 'advisory' AND l.granted "
            " AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
            " AND l.classid = 1129470288::oid AND l.objid = s.lease_key::oid AND l.objsubid = 2) "
            "THEN coalesce(s.owner, '') ELSE '' END, "
            "(SELECT count(*) FROM cairn.messages m WHERE (m.xid, m.position) > (s.cursor_xid, s.cursor_position) "
            " AND m.stream_hash % g.slice_count = s.slice), "
            "coalesce((SELECT extract(epoch FROM now() - min(m.created_at)) FROM cairn.messages m "
            " WHERE (m.xid, m.position) > (s.cursor_xid, s.cursor_position) AND m.stream_hash % g.slice_count = s.slice), 0) "
            "FROM cairn.group_slices s JOIN cairn.consumer_groups g USING (group_id) WHERE s.group_id = $1 ORDER BY s.slice");
  // One row: the group's seq on the stream (NULL before its first event), its row locked.
  c.prepare("stream_mark_for_update",
            "SELECT (SELECT seq FROM cairn.group_streams WHERE group_id = $1 AND stream_id = $2 FOR UPDATE)");
  // The rows of several streams, locked in one order so that two transactions never deadlock.
  c.prepare("marks_for_update",
            "SELECT stream_id, seq FROM cairn.group_streams WHERE group_id = $1 "
            "AND stream_id = ANY (ARRAY(SELECT jsonb_array_elements_text($2::jsonb))) ORDER BY stream_id FOR UPDATE");
  // A runner's marks, {stream_id: seq}, each written only where the stream's progress is below
  // the first event the runner handled ({stream_id: seq}; a stream not listed there always). The
  // count of rows written: fewer than the marks means a stream was further on than the runner knew.
  c.prepare("marks_after",
            "WITH written AS (INSERT INTO cairn.group_streams (group_id, stream_id, seq) "
            "  SELECT $1, key, value::bigint FROM jsonb_each_text($2::jsonb) "
            "  ON CONFLICT (group_id, stream_id) DO UPDATE SET seq = greatest(cairn.group_streams.seq, excluded.seq), "
            "  updated_at = now() WHERE cairn.group_streams.seq < coalesce(($3::jsonb ->> excluded.stream_id)::bigint, "
            "  9223372036854775807) RETURNING 1) "
            "SELECT count(*) FROM written");
  // The streams ({stream_id: [first seq handed, last seq handed, [every seq handed]]}) whose
  // progress would pass an event of the types ($3; [] for all) after the group's start that was not
  // handed: the feed skipped it. With the seq to read such a stream from. Each stream is probed on
  // its own (LATERAL), and only where seqs are missing: before the first event handed, the latest
  // event of the types decides (a stream's events reach the feed in seq order), so a long history
  // before the group's start costs one index probe, not a scan.
#define CAIRN_OF_TYPES "($3::jsonb = '[]'::jsonb OR m.type IN (SELECT jsonb_array_elements_text($3::jsonb)))"
  c.prepare("feed_gaps",
            "WITH handed AS MATERIALIZED (SELECT f.key AS stream_id, (f.value ->> 0)::bigint AS first, "
            "    (f.value ->> 1)::bigint AS last, f.value -> 2 AS seqs, g.start_xid, g.start_position, "
            "    coalesce((SELECT s.seq FROM cairn.group_streams s WHERE s.group_id = $1 AND s.stream_id = f.key), 0) AS done "
            "  FROM jsonb_each($2::jsonb) f JOIN cairn.consumer_groups g ON g.group_id = $1) "
            "(SELECT h.stream_id, (SELECT min(m.seq) - 1 FROM cairn.messages m WHERE m.stream_id = h.stream_id "
            "    AND m.seq > h.done AND m.seq < h.first AND " CAIRN_OF_TYPES
            "    AND (m.xid, m.position) > (h.start_xid, h.start_position)), h.first "
            "  FROM handed h CROSS JOIN LATERAL (SELECT m.xid, m.position FROM cairn.messages m "
            "    WHERE m.stream_id = h.stream_id AND m.seq > h.done AND m.seq < h.first AND " CAIRN_OF_TYPES
            "    ORDER BY m.seq DESC LIMIT 1) latest "
            "  WHERE h.first > h.done + 1 AND (latest.xid, latest.position) > (h.start_xid, h.start_position) LIMIT 1) "
            "UNION ALL "
            "(SELECT h.stream_id, missed.seq - 1, h.last FROM handed h CROSS JOIN LATERAL (SELECT min(m.seq) AS seq "
            "    FROM cairn.messages m WHERE m.stream_id = h.stream_id AND m.seq > h.first AND m.seq < h.last "
            "    AND " CAIRN_OF_TYPES " AND NOT h.seqs @> to_jsonb(m.seq)) missed "
            "  WHERE h.last - h.first + 1 > jsonb_array_length(h.seqs) AND missed.seq IS NOT NULL LIMIT 1)");
#undef CAIRN_OF_TYPES
  // The same rows unlocked, for a transaction whose fences are held: no other writer can come.
  c.prepare("marks_of",
            "SELECT stream_id, seq FROM cairn.group_streams WHERE group_id = $1 "
            "AND stream_id = ANY (ARRAY(SELECT jsonb_array_elements_text($2::jsonb)))");
  // The same with the fence check, in one round trip (the fence is held until the commit either way).
  c.prepare("fenced_mark_for_update",
            "SELECT (SELECT seq FROM cairn.group_streams WHERE group_id = $1 AND stream_id = $2 FOR UPDATE), "
            "cairn.check_fence($1, $3, $4)");
  c.prepare("ensure_projection", "INSERT INTO cairn.projections (group_id, key, state) VALUES ($1, $2, 'null') "
                                 "ON CONFLICT (group_id, key) DO NOTHING");
  c.prepare("lock_projection", "SELECT state::text FROM cairn.projections WHERE group_id = $1 AND key = $2 FOR UPDATE");
  c.prepare("save_projection", "UPDATE cairn.projections SET state = $3::jsonb, updated_at = now() "
                               "WHERE group_id = $1 AND key = $2");
  c.prepare("load_projection", "SELECT state::text FROM cairn.projections WHERE group_id = $1 AND key = $2 "
                               "AND state <> 'null'");
  c.prepare("delete_projection", "DELETE FROM cairn.projections WHERE group_id = $1 AND key = $2");
  c.prepare("projections_page", "SELECT key, state::text FROM cairn.projections WHERE group_id = $1 AND key > $2 "
                                "AND state <> 'null' ORDER BY key LIMIT $3");
  c.prepare("clear_projections", "DELETE FROM cairn.projections WHERE group_id = $1");
  c.prepare("streams",
            "SELECT stream_id, head_seq, (extract(epoch FROM updated_at) * 1000000)::bigint "
            "FROM cairn.streams WHERE starts_with(stream_id, $2) ORDER BY updated_at DESC, stream_id LIMIT $1");
}

// A jsonb column sent as text.
Json stored_json(const pqxx::field& f) { return postgres::parse_stored_json({f.c_str(), f.size()}); }

Timestamp from_micros(int64_t micros) { return Timestamp(std::chrono::microseconds(micros)); }

// `text` when it is a message id as PostgreSQL prints one (a lowercase uuid), else NULL: only such
// text can equal a stored id's text.
std::optional<std::string> as_message_id(std::string_view text) {
  std::string candidate(text);
  uuid_t raw;
  char printed[37];
  if (uuid_parse(candidate.c_str(), raw) != 0) return std::nullopt;
  uuid_unparse_lower(raw, printed);
  if (candidate != printed) return std::nullopt;
  return candidate;
}

// The message whose columns start at `f` (CAIRN_MESSAGE_COLUMNS, in order), leaving `f` on its
// last. It walks one iterator along the row with prefix increments: in libpqxx 6, `row[i]`, a copy
// of an iterator and the postfix `++` each make a field that copies the result's two shared
// pointers, which cost as much as the rest of a feed row's decoding.
Message row_to_message(pqxx::row::const_iterator& f) {
  Message m;
  m.position = f->as<int64_t>();
  m.id = (++f)->c_str();
  m.stream_id = (++f)->c_str();
  m.seq = (++f)->as<int64_t>();
  m.type = (++f)->c_str();
  m.revision = (++f)->as<int>();
  ++f;
  m.payload = stored_json(*f);
  ++f;
  m.metadata = stored_json(*f);
  m.created_at = from_micros((++f)->as<int64_t>());
  return m;
}

Message row_to_message(const pqxx::row& r) {
  auto f = r.begin();
  return row_to_message(f);
}

// A feed row: the message's columns, then its xid.
FeedEntry row_to_entry(const pqxx::row& r) {
  auto f = r.begin();
  auto message = row_to_message(f);
  auto position = message.position;
  return {std::move(message), {(++f)->as<uint64_t>(), position}};
}

// Makes the planner walk an index in the ORDER BY's order and stop at the LIMIT, rather than fetch
// every matching row and sort them, which it prefers when it underestimates how many match. No
// parallel plan either: its workers' rows would merge in no set order.
void walk_index_in_order(pqxx::transaction_base& tx) {
  tx.exec0("SET LOCAL enable_seqscan = off; SET LOCAL enable_bitmapscan = off; "
           "SET LOCAL max_parallel_workers_per_gather = 0");
}

// A LIMIT parameter: everything when there is no limit.
int64_t sql_limit(std::optional<size_t> limit) {
  return static_cast<int64_t>(std::min<size_t>(limit.value_or(std::numeric_limits<int64_t>::max()),
                                               std::numeric_limits<int64_t>::max()));
}

std::vector<Message> rows_to_messages(const pqxx::result& rows) {
  std::vector<Message> out;
  out.reserve(rows.size());
  for (const auto& r : rows) out.push_back(row_to_message(r));
  return out;
}

// 64-bit FNV-1a: the advisory-lock key of a stream's write lock.
int64_t stream_lock_key(std::string_view stream_id) {
  uint64_t h = 14695981039346656037ull;
  for (unsigned char c : stream_id) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return static_cast<int64_t>(h);
}

// The streams' advisory lock keys as a bigint[] literal, in ascending order (no deadlocks).
std::string lock_keys(const std::set<std::string>& streams) {
  std::set<int64_t> keys;
  for (const auto& s : streams) keys.insert(stream_lock_key(s));
  std::string array = "{";
  for (auto k : keys) array += (array.size() > 1 ? "," : "") + std::to_string(k);
  return array + "}";
}

void lock_streams(pqxx::work& tx, const std::set<std::string>& streams) {
  tx.exec_prepared("lock_streams", lock_keys(streams));
}

Json fence_json(const std::string& group_id, const Fence& fence) {
  return {{"g", group_id}, {"s", fence.slice}, {"e", fence.epoch}};
}

// Fails the transaction (LeaseLost, from SQLSTATE CL001) unless the fence still holds; holds it
// (shared) until the transaction ends, so the slice cannot change owners before it commits.
void check_fence(pqxx::transaction_base& tx, const std::string& group_id, const std::optional<Fence>& fence) {
  if (fence) tx.exec_prepared("check_fence", group_id, static_cast<int>(fence->slice), fence->epoch);
}

// The fenced marks of a group commit whose lease is gone: those requests fail, the others go on.
// Checked after the stream locks, so a transaction holding a fence never waits for a stream lock.
void drop_stale_fences(pqxx::work& tx, const std::vector<AppendRequest>& requests, std::vector<std::string>& errors,
                       std::vector<AppendOutcome>& outcomes) {
  Json fences = Json::array();
  std::vector<size_t> which;
  for (size_t i = 0; i < requests.size(); ++i)
    if (errors[i].empty() && requests[i].mark && requests[i].mark->fence) {
      fences.push_back(fence_json(requests[i].mark->group_id, *requests[i].mark->fence));
      which.push_back(i);
    }
  if (which.empty()) return;
  for (const auto& r : tx.exec_prepared("stale_fences", fences.dump())) {
    auto i = which.at(r[0].as<size_t>());
    errors[i] = "the lease on consumer group " + requests[i].mark->group_id + "'s slice was lost";
    outcomes[i].status = AppendOutcome::Status::lease_lost;
  }
}

// What a batch writes, as the write statements take it: the rows, the streams' new heads, the
// consumer marks, and which (request, message) each row is.
struct Writes {
  Json rows = Json::array();
  Json new_heads = Json::object();
  Json marks = Json::array();
  std::vector<std::pair<size_t, size_t>> written;

  // Request i's messages follow `head` (moved past them) in its stream.
  void add(size_t i, AppendRequest& request, int64_t& head) {
    for (size_t k = 0; k < request.messages.size(); ++k) {
      auto& m = request.messages[k];
      m.seq = ++head;
      rows.push_back({{"id", m.id},
                      {"stream_id", m.stream_id},
                      {"seq", m.seq},
                      {"type", m.type},
                      {"revision", m.revision},
                      {"payload", m.payload},
                      {"metadata", m.metadata},
                      {"stream_hash", stream_hash(m.stream_id)}});
      written.emplace_back(i, k);
    }
    new_heads[request.stream_id] = head;
  }
  void mark(const ProgressMark& mark) {
    marks.push_back({{"group_id", mark.group_id}, {"stream_id", mark.stream_id}, {"seq", mark.seq}});
  }
  // Gives the written messages the positions and times the database assigned.
  void assigned(const pqxx::result& result, std::vector<AppendRequest>& requests,
                std::vector<AppendOutcome>& outcomes) const {
    std::map<std::string, std::pair<int64_t, int64_t>> by_id;  // id -> (position, created_at)
    for (const auto& r : result) by_id[r[0].c_str()] = {r[1].as<int64_t>(), r[2].as<int64_t>()};
    for (auto [i, k] : written) {
      auto& m = requests[i].messages[k];
      m.position = by_id.at(m.id).first;
      m.created_at = from_micros(by_id.at(m.id).second);
      outcomes[i].messages.push_back(m);
    }
  }
};

bool is_unique_violation(const pqxx::sql_error& e) { return e.sqlstate() == "23505"; }

// The common case in one round trip, outside a transaction block: every request valid, expecting
// an exact head (those of one stream following each other), with no fenced mark. None when that
// does not hold, or a stream is not where its request expects it, or an id is already stored (the
// id's unique index refuses the statement, which was its whole transaction): the caller then
// decides request by request, in a transaction.
std::optional<std::vector<AppendOutcome>> append_expected(pqxx::connection& c, std::vector<AppendRequest>& requests,
                                                          const std::vector<std::string>& errors) {
  std::vector<AppendOutcome> outcomes(requests.size());
  std::set<std::string> streams;
  Json expected = Json::object();
  std::map<std::string, int64_t> heads;
  Writes writes;
  for (size_t i = 0; i < requests.size(); ++i) {
    auto& request = requests[i];
    if (!errors[i].empty() || request.expected.is_any || (request.mark && request.mark->fence)) return std::nullopt;
    auto [head, first] = heads.try_emplace(request.stream_id, request.expected.seq);
    if (first) expected[request.stream_id] = request.expected.seq;
    if (head->second != request.expected.seq) return std::nullopt;
    streams.insert(request.stream_id);
    writes.add(i, request, head->second);
    if (request.mark) writes.mark(*request.mark);
    outcomes[i].status = AppendOutcome::Status::appended;
    outcomes[i].head_seq = head->second;
  }
  pqxx::result result;
  try {
    pqxx::nontransaction tx(c);
    result = tx.exec_prepared("append_expected", lock_keys(streams), expected.dump(), writes.rows.dump(),
                              writes.new_heads.dump(), writes.marks.dump());
  } catch (const pqxx::sql_error& e) {
    if (!is_unique_violation(e)) throw;
    return std::nullopt;
  }
  if (result.empty()) return std::nullopt;
  writes.assigned(result, requests, outcomes);
  return outcomes;
}

// Locks the valid requests' streams, reads their heads and stored ids, and writes: two round trips.
std::vector<AppendOutcome> write_locked(pqxx::work& tx, std::vector<AppendRequest>& requests,
                                        std::vector<std::string> errors) {
  std::vector<AppendOutcome> outcomes(requests.size());
  std::set<std::string> streams;
  Json ids = Json::array();
  for (size_t i = 0; i < requests.size(); ++i) {
    if (!errors[i].empty()) continue;
    streams.insert(requests[i].stream_id);
    for (const auto& m : requests[i].messages) ids.push_back(m.id);
  }
  std::map<std::string, int64_t> heads;
  std::map<std::string, Message> stored;
  for (const auto& r : tx.exec_prepared("lock_for_append", lock_keys(streams), Json(streams).dump(), ids.dump())) {
    if (r[1].is_null()) {
      heads[r[2].c_str()] = r[10].as<int64_t>();
    } else {
      auto m = row_to_message(r);
      stored.emplace(m.id, std::move(m));
    }
  }
  drop_stale_fences(tx, requests, errors, outcomes);

  Writes writes;
  for (size_t i = 0; i < requests.size(); ++i) {
    auto& request = requests[i];
    auto& outcome = outcomes[i];
    if (!errors[i].empty()) {
      outcome.error = errors[i];
      continue;  // invalid, or lease_lost
    }
    std::vector<std::optional<Message>> existing;
    for (const auto& m : request.messages) {
      auto it = stored.find(m.id);
      existing.push_back(it == stored.end() ? std::nullopt : std::optional<Message>(it->second));
    }
    int64_t& head = heads[request.stream_id];
    auto decision = decide_append(request, existing, head);
    outcome.head_seq = head;
    switch (decision.kind) {
      case AppendDecision::Kind::invalid: outcome.error = decision.error; break;
      case AppendDecision::Kind::conflict: outcome.status = AppendOutcome::Status::conflict; break;
      case AppendDecision::Kind::already_stored:
        outcome.status = AppendOutcome::Status::appended;
        for (auto& e : existing) outcome.messages.push_back(std::move(*e));
        if (request.mark) writes.mark(*request.mark);
        break;
      case AppendDecision::Kind::write:
        outcome.status = AppendOutcome::Status::appended;
        writes.add(i, request, head);
        outcome.head_seq = head;
        if (request.mark) writes.mark(*request.mark);
        break;
    }
  }
  if (writes.written.empty()) {
    if (!writes.marks.empty()) tx.exec_prepared("marks", writes.marks.dump());
    return outcomes;
  }
  writes.assigned(tx.exec_prepared("write", writes.rows.dump(), writes.new_heads.dump(), writes.marks.dump()),
                  requests, outcomes);
  return outcomes;
}

// The seq the group's progress on the mark's stream is at, its row locked (when it exists) and the
// mark's fence checked: how every exactly-once update starts.
int64_t locked_mark(pqxx::work& tx, const ProgressMark& mark) {
  auto row = mark.fence ? tx.exec_prepared1("fenced_mark_for_update", mark.group_id, mark.stream_id,
                                            static_cast<int>(mark.fence->slice), mark.fence->epoch)
                        : tx.exec_prepared1("stream_mark_for_update", mark.group_id, mark.stream_id);
  return row[0].is_null() ? 0 : row[0].as<int64_t>();
}

FeedCursor head_cursor(pqxx::transaction_base& tx) {
  auto rows = tx.exec_prepared("head_cursor");
  return rows.empty() ? FeedCursor{} : FeedCursor{rows[0][0].as<uint64_t>(), rows[0][1].as<int64_t>()};
}

}  // namespace

template <class Work>
auto PostgresStore::with_connection(Work&& work) {
  try {
    return pool_.run(std::forward<Work>(work));
  } catch (const Error&) {
    throw;
  } catch (const pqxx::sql_error& e) {
    if (e.sqlstate() == "CL001") throw LeaseLost(e.what());
    // Class 08 (connection exception) and 57P (the server shutting down, starting up, or crashed).
    if (e.sqlstate().rfind("08", 0) == 0 || e.sqlstate().rfind("57P", 0) == 0)
      throw Unavailable(std::string("PostgreSQL: ") + e.what());
    throw StoreError(std::string("PostgreSQL: ") + e.what());
  } catch (const pqxx::broken_connection& e) {
    throw Unavailable(std::string("PostgreSQL: ") + e.what());
  } catch (const pqxx::in_doubt_error& e) {
    throw Unavailable(std::string("PostgreSQL (the commit's outcome is unknown): ") + e.what());
  } catch (const pqxx::failure& e) {
    throw StoreError(std::string("PostgreSQL: ") + e.what());
  }
}

PostgresStore::PostgresStore(const std::string& url, Limits limits, size_t pool_size, Metrics* metrics)
    : Store(limits), url_(url), pool_(url, pool_size, prepare_statements, metrics),
      leases_(std::make_shared<postgres::LeaseSession>(url)) {
  if (auto behind = postgres::schema_behind(postgres::schema_version(url))) throw StoreError(*behind);
  with_connection([](pqxx::connection& c) {
    pqxx::read_transaction tx(c);
    postgres::require_own_xids(tx);  // a log restored into another cluster would skip events
    return 0;
  });
}

std::vector<AppendOutcome> PostgresStore::append_batch(std::vector<AppendRequest>& requests,
                                                       const std::vector<std::string>& errors) {
  return pool_.run([&](pqxx::connection& c) {
    if (auto outcomes = append_expected(c, requests, errors)) return std::move(*outcomes);
    pqxx::work tx(c);
    auto outcomes = write_locked(tx, requests, errors);  // takes the streams' locks first
    tx.commit();
    return outcomes;
  });
}

std::vector<AppendOutcome> PostgresStore::append_many(std::vector<AppendRequest> requests) {
  auto errors = validate_requests(requests);
  try {
    try {
      return append_batch(requests, errors);
    } catch (const pqxx::sql_error& e) {
      // A concurrent writer stored one of these ids between our check and our insert. Retrying
      // decides again against what is now stored; one request at a time isolates a bad one.
      if (!is_unique_violation(e)) throw;
    }
    std::vector<AppendOutcome> outcomes;
    for (size_t i = 0; i < requests.size(); ++i) {
      std::vector<AppendRequest> one{requests[i]};
      std::vector<std::string> error{errors[i]};
      for (int attempt = 0;; ++attempt) {
        try {
          outcomes.push_back(std::move(append_batch(one, error).front()));
          break;
        } catch (const pqxx::sql_error& e) {
          if (!is_unique_violation(e) || attempt == 2) throw;
        }
      }
    }
    return outcomes;
  } catch (const pqxx::failure& e) {
    throw StoreError(std::string("append failed: ") + e.what());
  }
}

std::optional<AppendOutcome> PostgresStore::append_under_lock(const std::string& stream_id, int64_t after_seq,
                                                              const LockedDecide& decide) {
  validate_stream_id(stream_id, limits());
  bool decided = false;
  return with_connection([&](pqxx::connection& c) -> std::optional<AppendOutcome> {
    // The pool retries a transaction whose connection broke; once `decide` ran, its commit may
    // have happened, and deciding again could decide a command twice.
    if (decided) throw Unavailable("PostgreSQL: the connection was lost while appending under the stream's lock");
    pqxx::work tx(c);
    lock_streams(tx, {stream_id});
    // READ COMMITTED: this statement's snapshot is taken after the lock, so it sees every append
    // the previous holder committed.
    auto newer = rows_to_messages(tx.exec_prepared("read_stream", stream_id, after_seq,
                                                   std::numeric_limits<int64_t>::max(),
                                                   std::numeric_limits<int64_t>::max() / 2));
    decided = true;
    auto request = decide(newer);
    if (!request) return std::nullopt;
    std::vector<AppendRequest> one;
    one.push_back(std::move(*request));
    auto outcome = std::move(write_locked(tx, one, validate_requests(one)).front());
    tx.commit();
    return outcome;
  });
}

std::vector<Message> PostgresStore::read_stream(std::string_view stream_id, const StreamRange& range) {
  return with_connection([&](pqxx::connection& c) {
    pqxx::read_transaction tx(c);
    // A page of a stream the planner believes short (no statistics yet, or a stream it does not
    // know) would otherwise read the whole rest of the stream and sort it, for every page: 0.8 s a
    // page in the middle of a freshly written 1,000,000-event stream, against 2 ms.
    if (range.limit) walk_index_in_order(tx);
    return rows_to_messages(tx.exec_prepared("read_stream_page", std::string(stream_id), range.after_seq,
                                             range.upto_seq.value_or(std::numeric_limits<int64_t>::max()),
                                             range.upto_time ? range.upto_time->time_since_epoch().count()
                                                             : std::numeric_limits<int64_t>::max() / 2,
                                             sql_limit(range.limit)));
  });
}

int64_t PostgresStore::head_seq(std::string_view stream_id) {
  return with_connection([&](pqxx::connection& c) {
    pqxx::read_transaction tx(c);
    auto rows = tx.exec_prepared("head", std::string(stream_id));
    return rows.empty() ? int64_t{0} : rows[0][0].as<int64_t>();
  });
}

std::optional<Message> PostgresStore::find_message(std::string_view id) {
  validate_uuid(id, "message id");
  return with_connection([&](pqxx::connection& c) {
    pqxx::read_transaction tx(c);
    auto rows = tx.exec_prepared("find", std::string(id));
    return rows.empty() ? std::nullopt : std::optional<Message>(row_to_message(rows[0]));
  });
}

std::vector<FeedEntry> PostgresStore::read_feed(FeedCursor after, size_t limit, const FeedFilter& filter) {
  return read_feed_page(after, limit, filter).decode();
}

FeedPage PostgresStore::read_feed_page(FeedCursor after, size_t limit, const FeedFilter& filter) {
  Json types = filter.types;
  std::string slices = "{";
  for (auto slice : filter.slices) slices += (slices.size() > 1 ? "," : "") + std::to_string(slice);
  slices += "}";
  auto rows = with_connection([&](pqxx::connection& c) {
    pqxx::read_transaction tx(c);
    // The planner has no statistics for `stream_hash % slice_count`: guessing that few rows match,
    // it would rather read the whole remaining log and sort it (1 s a page over a million events)
    // than walk the (xid, position) index until the page is full (6 ms).
    walk_index_in_order(tx);
    return tx.exec_prepared("feed_page", std::to_string(after.xid), after.position, types.dump(),
                            static_cast<int64_t>(filter.slice_count), slices, static_cast<int64_t>(limit));
  });
  // The head's row, when the log has one, comes first: its id is NULL.
  FeedPage page;
  size_t first = 0;
  if (!rows.empty() && rows[0][1].is_null()) {
    page.head = {rows[0][9].as<uint64_t>(), rows[0][0].as<int64_t>()};
    first = 1;
  }
  if (rows.size() == first) {
    page.decode = [] { return std::vector<FeedEntry>(); };
    return page;
  }
  page.size = rows.size() - first;
  page.last = {rows.back()[9].as<uint64_t>(), rows.back()[0].as<int64_t>()};
  // The result lives on without its connection; its rows become messages when the reader asks.
  page.decode = [rows = std::move(rows), first] {
    std::vector<FeedEntry> out;
    out.reserve(rows.size() - first);
    for (auto r = rows.begin() + static_cast<pqxx::result::difference_type>(first); r != rows.end(); ++r)
      out.push_back(row_to_entry(*r));
    return out;
  };
  return page;
}

FeedCursor PostgresStore::feed_head() {
  return with_connection([&](pqxx::connection& c) {
    pqxx::read_transaction tx(c);
    return head_cursor(tx);
  });
}

FeedHealth PostgresStore::feed_health() {
  return with_connection([&](pqxx::connection& c) {
    pqxx::read_transaction tx(c);
    return postgres::read_feed_health(tx);
  });
}

std::vector<Message> PostgresStore::read_correlation(std::string_view correlation_id, size_t limit) {
  return with_connection([&](pqxx::connection& c) {
    pqxx::read_transaction tx(c);
    return rows_to_messages(
        tx.exec_prepared("correlation", std::string(correlation_id), sql_limit(limit), as_message_id(correlation_id)));
  });
}

void PostgresStore::save_snapshot(const Snapshot& snapshot) {
  validate_stream_id(snapshot.stream_id, limits());
  with_connection([&](pqxx::connection& c) {
    pqxx::work tx(c);
    tx.exec_prepared("save_snapshot", snapshot.stream_id, snapshot.seq, snapshot.state_revision,
                     snapshot.state.dump());
    tx.commit();
    return 0;
  });
}

std::optional<Snapshot> PostgresStore::load_snapshot(std::string_view stream_id) {
  return with_connection([&](pqxx::connection& c) {
    pqxx::read_transaction tx(c);
    auto rows = tx.exec_prepared("load_snapshot", std::string(stream_id));
    if (rows.empty()) return std::optional<Snapshot>();
    return std::optional<Snapshot>(Snapshot{std::string(stream_id), rows[0][0].as<int64_t>(),
                                            rows[0][1].as<int>(), stored_json(rows[0][2])});
  });
}

void PostgresStore::schedule(Message message, Timestamp due) {
  validate_message(message, limits());
  with_connection([&](pqxx::connection& c) {
    pqxx::work tx(c);
    tx.exec_prepared("schedule", message.id, message.stream_id, due.time_since_epoch().count(),
                     Json(message).dump());
    tx.commit();
    return 0;
  });
}

Promotion PostgresStore::promote_due(Timestamp now, size_t limit) {
  auto micros = now.time_since_epoch().count();
  try {
    return pool_.run([&](pqxx::connection& c) {
      std::set<std::string> streams;
      {
        pqxx::read_transaction candidates(c);
        for (const auto& r : candidates.exec_prepared("due", micros, static_cast<int64_t>(limit)))
          streams.insert(r[0].c_str());
      }
      if (streams.empty()) return Promotion();
      pqxx::work tx(c);
      lock_streams(tx, streams);  // before the claim gives this transaction its xid
      Json stream_ids = Json::array();
      for (const auto& s : streams) stream_ids.push_back(s);
      std::vector<AppendRequest> requests;
      std::vector<UndeliverableMessage> claimed, unreadable;
      std::map<std::string, std::string> bodies;  // id -> the row's message, to keep an undeliverable one
      for (const auto& r : tx.exec_prepared("claim_due", micros, stream_ids.dump(), static_cast<int64_t>(limit))) {
        UndeliverableMessage row{r[0].c_str(), r[1].c_str(), from_micros(r[2].as<int64_t>()), ""};
        bodies[row.id] = r[3].c_str();
        try {  // a row an older or newer version wrote may not read as a message; the others go on
          auto m = stored_json(r[3]).get<Message>();
          requests.push_back({m.stream_id, ExpectedSeq::any(), {std::move(m)}});
          claimed.push_back(std::move(row));
        } catch (const std::exception& e) {
          row.error = std::string("cannot be read as a message: ") + e.what();
          unreadable.push_back(std::move(row));
        }
      }
      std::vector<AppendOutcome> outcomes;
      if (!requests.empty()) outcomes = write_locked(tx, requests, validate_requests(requests));
      auto promotion = sort_promotion(std::move(claimed), std::move(outcomes));
      for (auto& row : unreadable) promotion.undeliverable.push_back(std::move(row));
      for (const auto& kept : promotion.undeliverable)
        tx.exec_prepared("keep_undeliverable", kept.id, kept.stream_id, kept.due.time_since_epoch().count(),
                         bodies[kept.id], kept.error);
      tx.commit();
      return promotion;
    });
  } catch (const pqxx::failure& e) {
    throw StoreError(std::string("promoting scheduled messages failed: ") + e.what());
  }
}

std::vector<UndeliverableMessage> PostgresStore::undeliverable_messages(size_t limit) {
  return with_connection([&](pqxx::connection& c) {
    pqxx::read_transaction tx(c);
    std::vector<UndeliverableMessage> out;
    for (const auto& r : tx.exec_prepared("undeliverable", static_cast<int64_t>(limit)))
      out.push_back({r[0].c_str(), r[1].c_str(), from_micros(r[2].as<int64_t>()), r[3].c_str()});
    return out;
  });
}

ScheduleSummary PostgresStore::schedule_summary() {
  return with_connection([&](pqxx::connection& c) {
    pqxx::read_transaction tx(c);
    auto row = tx.exec_prepared1("schedule_summary");
    ScheduleSummary summary{row[0].as<int64_t>(), std::nullopt};
    if (!row[1].is_null()) summary.next_due = from_micros(row[1].as<int64_t>());
    return summary;
  });
}

std::vector<StreamInfo> PostgresStore::list_streams(size_t limit, std::string_view prefix) {
  return with_connection([&](pqxx::connection& c) {
    pqxx::read_transaction tx(c);
    std::vector<StreamInfo> out;
    for (const auto& r : tx.exec_prepared("streams", static_cast<int64_t>(limit), std::string(prefix)))
      out.push_back({r[0].c_str(), r[1].as<int64_t>(), from_micros(r[2].as<int64_t>())});
    return out;
  });
}

// -- consumer groups --

namespace {

FeedCursor cursor_of(const pqxx::field& xid, const pqxx::field& position) {
  return {xid.as<uint64_t>(), position.as<int64_t>()};
}

GroupState row_to_group(const pqxx::row& r) {
  return {r[0].c_str(),         std::string(r[1].c_str()) == "active",
          r[2].as<uint32_t>(),  r[3].as<int64_t>(),
          cursor_of(r[4], r[5]), stored_json(r[6]).get<std::vector<std::string>>()};
}

StreamProgress row_to_progress(const pqxx::row& r) {
  return {r[0].c_str(), r[1].as<int64_t>(), r[2].as<bool>(), r[3].as<int64_t>(), r[4].c_str(), r[5].c_str(),
          r[6].as<int>()};
}

GroupState require_group(pqxx::transaction_base& tx, const std::string& group_id) {
  auto rows = tx.exec_prepared("group", group_id);
  if (rows.empty()) throw BadInput("no consumer group '" + group_id + "'");
  return row_to_group(rows[0]);
}

// A slice's lease lock lives on the process's lease session: it vanishes with the process (or the server).
class PostgresSliceLease final : public SliceLease {
 public:
  PostgresSliceLease(std::shared_ptr<postgres::LeaseSession> session, std::string group_id, uint32_t slice,
                     postgres::LeaseSession::Taken taken)
      : SliceLease({slice, taken.epoch}), session_(std::move(session)), group_id_(std::move(group_id)), taken_(taken) {}
  ~PostgresSliceLease() override { session_->release(group_id_, fence().slice, taken_); }
  bool alive() override { return session_->alive(group_id_, fence().slice, taken_); }
  void free_when_silent(std::chrono::milliseconds silence) override {
    session_->watch(group_id_, fence().slice, silence);
  }

 private:
  std::shared_ptr<postgres::LeaseSession> session_;
  std::string group_id_;
  postgres::LeaseSession::Taken taken_;
};

class PostgresGroupMembership final : public GroupMembership {
 public:
  PostgresGroupMembership(std::shared_ptr<postgres::LeaseSession> session, std::string group_id)
      : session_(std::move(session)), group_id_(std::move(group_id)) {
    session_->join(group_id_);
  }
  ~PostgresGroupMembership() override { session_->leave(group_id_); }
  GroupCensus census() override { return session_->census(group_id_); }

 private:
  std::shared_ptr<postgres::LeaseSession> session_;
  std::string group_id_;
};

}  // namespace

std::unique_ptr<GroupMembership> PostgresStore::join_group(const std::string& group_id) {
  try {
    return std::make_unique<PostgresGroupMembership>(leases_, group_id);
  } catch (const pqxx::failure& e) {
    throw StoreError(std::string("PostgreSQL: ") + e.what());
  }
}

GroupState PostgresStore::ensure_group(const std::string& group_id, uint32_t slice_count, StartFrom start) {
  return with_connection([&](pqxx::connection& c) {
    pqxx::work tx(c);
    if (tx.exec_prepared("insert_group", group_id, static_cast<int>(slice_count)).affected_rows() == 1) {
      auto from = start.first_cursor([&] { return head_cursor(tx); });
      tx.exec_prepared("insert_slices", group_id, static_cast<int>(slice_count), std::to_string(from.xid),
                       from.position);
    }
    auto group = require_group(tx, group_id);
    tx.commit();
    return group;
  });
}

ShapeCheck PostgresStore::check_shape(const std::string& group_id, const GroupShape& shape) {
  return with_connection([&](pqxx::connection& c) {
    pqxx::work tx(c);
    auto rows = tx.exec_prepared("group_for_update", group_id);
    if (rows.empty()) throw BadInput("no consumer group '" + group_id + "'");
    auto stored = row_to_group(rows[0]);
    bool fenced = false;
    auto passed = [&](const std::vector<std::string>& added) {
      // No cursor may move while this runs: every slice's fence, held until the commit.
      tx.exec_prepared("hold_fences", group_id);
      fenced = true;
      return tx.exec_prepared1("passed_types", group_id, static_cast<int>(stored.slice_count), Json(added).dump())[0]
          .as<int64_t>();
    };
    auto check = apply_shape_rule(stored, shape, passed, [&](const std::vector<std::string>& types, bool bump) {
      if (bump && !fenced) tx.exec_prepared("hold_fences", group_id);
      tx.exec_prepared("store_types", group_id, Json(types).dump(), bump ? 1 : 0);
    });
    tx.commit();
    return check;
  });
}

std::optional<GroupState> PostgresStore::find_group(const std::string& group_id) {
  return with_connection([&](pqxx::connection& c) {
    pqxx::read_transaction tx(c);
    auto rows = tx.exec_prepared("group", group_id);
    return rows.empty() ? std::optional<GroupState>() : std::optional<GroupState>(row_to_group(rows[0]));
  });
}

std::vector<GroupState> PostgresStore::list_groups() {
  return with_connection([&](pqxx::connection& c) {
    pqxx::read_transaction tx(c);
    std::vector<GroupState> out;
    for (const auto& r : tx.exec_prepared("groups")) out.push_back(row_to_group(r));
    return out;
  });
}

FeedCursor PostgresStore::load_cursor(const std::string& group_id, uint32_t slice) {
  return with_connection([&](pqxx::connection& c) {
    pqxx::read_transaction tx(c);
    auto rows = tx.exec_prepared("load_cursor", group_id, static_cast<int>(slice));
    if (rows.empty()) throw BadInput("no slice " + std::to_string(slice) + " in consumer group '" + group_id + "'");
    return cursor_of(rows[0][0], rows[0][1]);
  });
}

bool PostgresStore::cursor_passed(const std::string& group_id, std::string_view stream_id, int64_t seq) {
  return with_connection([&](pqxx::connection& c) {
    pqxx::read_transaction tx(c);
    auto rows = tx.exec_prepared("cursor_passed", group_id, std::string(stream_id), seq);
    return !rows.empty() && rows[0][0].as<bool>();
  });
}

bool PostgresStore::save_progress(const std::string& group_id, Fence fence, int64_t generation, FeedCursor cursor,
                                  const std::vector<ProgressMark>& marks) {
  Json rows = Json::array();
  for (const auto& m : marks) rows.push_back({{"group_id", m.group_id}, {"stream_id", m.stream_id}, {"seq", m.seq}});
  return with_connection([&](pqxx::connection& c) {
    pqxx::work tx(c);
    check_fence(tx, group_id, fence);  // first: the generation is then read with a snapshot taken after it
    if (tx.exec_prepared("save_cursor", group_id, static_cast<int>(fence.slice), generation, std::to_string(cursor.xid),
                         cursor.position)
            .affected_rows() != 1)
      return false;  // reset meanwhile: this batch's progress belongs to the old generation
    if (!rows.empty()) tx.exec_prepared("marks", rows.dump());
    tx.commit();
    return true;
  });
}

std::vector<StreamProgress> PostgresStore::load_progress(const std::string& group_id,
                                                         const std::vector<std::string>& stream_ids) {
  Json ids = stream_ids;
  return with_connection([&](pqxx::connection& c) {
    pqxx::read_transaction tx(c);
    std::vector<StreamProgress> out;
    for (const auto& r : tx.exec_prepared("load_progress", group_id, ids.dump())) out.push_back(row_to_progress(r));
    return out;
  });
}

std::vector<StreamProgress> PostgresStore::failed_streams(const std::string& group_id) {
  return with_connection([&](pqxx::connection& c) {
    pqxx::read_transaction tx(c);
    std::vector<StreamProgress> out;
    for (const auto& r : tx.exec_prepared("failed_streams", group_id)) out.push_back(row_to_progress(r));
    return out;
  });
}

void PostgresStore::mark_handled(const ProgressMark& mark) {
  Json marks = Json::array({{{"group_id", mark.group_id}, {"stream_id", mark.stream_id}, {"seq", mark.seq}}});
  with_connection([&](pqxx::connection& c) {
    pqxx::work tx(c);
    check_fence(tx, mark.group_id, mark.fence);
    tx.exec_prepared("marks", marks.dump());
    tx.commit();
    return 0;
  });
}

void PostgresStore::stop_stream(const std::string& group_id, const StreamProgress& failure, std::optional<Fence> fence) {
  with_connection([&](pqxx::connection& c) {
    pqxx::work tx(c);
    check_fence(tx, group_id, fence);
    tx.exec_prepared("stop_stream", group_id, failure.stream_id, failure.failed_seq, failure.message_id,
                     failure.error, failure.attempts, failure.seq);
    tx.commit();
    return 0;
  });
}

void PostgresStore::resume_stream(const std::string& group_id, const std::string& stream_id, bool skip) {
  with_connection([&](pqxx::connection& c) {
    pqxx::work tx(c);
    if (tx.exec_prepared("resume_stream", group_id, stream_id, skip).affected_rows() == 0)
      throw BadInput("stream '" + stream_id + "' is not stopped in group '" + group_id + "'");
    tx.commit();
    return 0;
  });
}

void PostgresStore::clear_failure(const std::string& group_id, const std::string& stream_id,
                                  std::optional<Fence> fence) {
  with_connection([&](pqxx::connection& c) {
    pqxx::work tx(c);
    check_fence(tx, group_id, fence);
    tx.exec_prepared("clear_failure", group_id, stream_id);
    tx.commit();
    return 0;
  });
}

void PostgresStore::set_group_active(const std::string& group_id, bool active) {
  with_connection([&](pqxx::connection& c) {
    pqxx::work tx(c);
    if (tx.exec_prepared("set_group_status", group_id, std::string(active ? "active" : "stopped")).affected_rows() == 0)
      throw BadInput("no consumer group '" + group_id + "'");
    tx.commit();
    return 0;
  });
}

void PostgresStore::reset_group(const std::string& group_id, const std::optional<GroupShape>& shape) {
  with_connection([&](pqxx::connection& c) {
    pqxx::work tx(c);
    auto group = require_group(tx, group_id);
    auto head = head_cursor(tx);
    tx.exec_prepared("reset_group", group_id, std::to_string(head.xid), head.position);
    if (shape) {
      tx.exec_prepared("store_types", group_id, Json(shape->types).dump(), 0);
      if (shape->slice_count != group.slice_count) {
        // New slices, new lease keys and epochs: the old slices' owners are fenced out for good.
        tx.exec_prepared("drop_slices", group_id);
        tx.exec_prepared("reslice", group_id, static_cast<int>(shape->slice_count));
        tx.exec_prepared("insert_slices", group_id, static_cast<int>(shape->slice_count), "0", 0);
      }
    }
    tx.exec_prepared("reset_slices", group_id);
    tx.exec_prepared("reset_streams", group_id);
    tx.commit();
    return 0;
  });
}

std::vector<SliceStatus> PostgresStore::slice_status(const std::string& group_id) {
  return with_connection([&](pqxx::connection& c) {
    pqxx::read_transaction tx(c);
    std::vector<SliceStatus> out;
    for (const auto& r : tx.exec_prepared("slice_status", group_id))
      out.push_back({r[0].as<uint32_t>(), cursor_of(r[1], r[2]), r[3].c_str(), r[4].as<int64_t>(), r[5].as<double>()});
    return out;
  });
}

std::unique_ptr<SliceLease> PostgresStore::try_lease_slice(const std::string& group_id, uint32_t slice,
                                                           const std::string& owner) {
  try {
    auto taken = leases_->take(group_id, slice, owner);
    if (!taken) return nullptr;
    return std::make_unique<PostgresSliceLease>(leases_, group_id, slice, *taken);
  } catch (const pqxx::broken_connection&) {
    return nullptr;  // the server is away; the runner tries again
  } catch (const pqxx::sql_error& e) {
    if (e.sqlstate() == "CL002") throw BadInput(e.what());
    throw StoreError(std::string("PostgreSQL: ") + e.what());
  }
}

namespace {

// The seqs of the events `work` was handed, by stream, in the order handed (a stream's in seq order).
using HandedSeqs = std::unordered_map<std::string, std::vector<int64_t>>;

// Throws StreamGap for a stream whose mark would pass an event the feed skipped, of those whose
// progress the runner assumed; the transaction is then rolled back.
void check_feed_gaps(pqxx::work& tx, const std::vector<ProgressMark>& marks, const std::vector<std::string>& types,
                     const HandedSeqs& handed) {
  Json streams = Json::object();
  for (const auto& mark : marks)
    if (auto it = handed.find(mark.stream_id); mark.check_skipped && it != handed.end())
      streams[mark.stream_id] = Json::array({it->second.front(), it->second.back(), it->second});
  if (streams.empty()) return;
  auto gaps = tx.exec_prepared("feed_gaps", marks.front().group_id, streams.dump(), Json(types).dump());
  if (!gaps.empty()) throw StreamGap(gaps[0][0].c_str(), gaps[0][1].as<int64_t>(), gaps[0][2].as<int64_t>());
}

}  // namespace

void PostgresStore::transact_with_marks(const std::vector<ProgressMark>& marks, const std::vector<std::string>& types,
                                        const std::function<void(pqxx::work&, const Handled&)>& work) {
  if (marks.empty()) return;
  const auto& group_id = marks.front().group_id;
  Json fences = Json::array();
  std::set<std::pair<uint32_t, int64_t>> fenced;
  bool all_fenced = true;
  for (const auto& mark : marks) {
    all_fenced = all_fenced && mark.fence;
    if (mark.fence && fenced.insert({mark.fence->slice, mark.fence->epoch}).second)
      fences.push_back(fence_json(group_id, *mark.fence));
  }
  auto check_fences = [&](pqxx::work& tx) {
    if (!fences.empty() && !tx.exec_prepared("stale_fences", fences.dump()).empty())
      throw LeaseLost("a slice of consumer group " + group_id + " has another owner now");
  };
  // Held fences keep every other writer of these streams' progress out until the commit (a new
  // owner waits for them before it reads), so the runner that holds them knows where its streams
  // are: it applies every event it was given and writes the marks only where no stream's progress
  // has reached the first event it was asked about. Reading the marks first was a third of
  // PostgreSQL's time in a catch-up. When a stream is further on (a commit whose outcome was
  // unknown went through) or a handler fails (perhaps on an event it had applied then), all of it
  // is undone and done again below, from the stored marks.
  if (all_fenced) {
    try {
      bool applied = with_connection([&](pqxx::connection& c) {
        pqxx::work tx(c);
        check_fences(tx);
        HandedSeqs handed;
        work(tx, [&](const Message& event) {
          handed[event.stream_id].push_back(event.seq);
          return false;
        });
        check_feed_gaps(tx, marks, types, handed);
        Json seqs = Json::object(), firsts = Json::object();
        for (const auto& [stream, handed_seqs] : handed) firsts[stream] = handed_seqs.front();
        for (const auto& mark : marks) seqs[mark.stream_id] = mark.seq;
        if (tx.exec_prepared1("marks_after", group_id, seqs.dump(), firsts.dump())[0].as<size_t>() != seqs.size())
          return false;
        tx.commit();
        return true;
      });
      if (applied) return;
    } catch (const LeaseLost&) {
      throw;
    } catch (const Unavailable&) {
      throw;
    } catch (const StreamGap&) {
      throw;
    } catch (...) {  // a handler's failure is judged below, on the events not yet applied
    }
  }
  // Locked (or, under held fences, plainly read) marks: `work` applies only what they do not cover.
  Json streams = Json::array();
  for (const auto& mark : marks) streams.push_back(mark.stream_id);
  with_connection([&](pqxx::connection& c) {
    pqxx::work tx(c);
    check_fences(tx);
    std::unordered_map<std::string, int64_t> done;
    for (const auto& r : tx.exec_prepared(all_fenced ? "marks_of" : "marks_for_update", group_id, streams.dump()))
      done[r[0].c_str()] = r[1].as<int64_t>();
    HandedSeqs handed;
    work(tx, [&](const Message& event) {
      auto it = done.find(event.stream_id);
      if (it != done.end() && it->second >= event.seq) return true;
      handed[event.stream_id].push_back(event.seq);
      return false;
    });
    check_feed_gaps(tx, marks, types, handed);
    Json moved = Json::array();
    for (const auto& mark : marks)
      if (done[mark.stream_id] < mark.seq)
        moved.push_back({{"group_id", group_id}, {"stream_id", mark.stream_id}, {"seq", mark.seq}});
    if (!moved.empty()) tx.exec_prepared("marks", moved.dump());
    tx.commit();
    return 0;
  });
}

void PostgresStore::transact(const std::function<void(pqxx::work&)>& work) {
  pool_.run([&](pqxx::connection& c) {
    pqxx::work tx(c);
    work(tx);
    tx.commit();
    return 0;
  });
}

bool PostgresStore::update_projection(const std::string& key, const ProgressMark& mark,
                                      const std::vector<std::string>& types,
                                      const std::function<Json(Json state)>& evolve) {
  Json marks = Json::array({{{"group_id", mark.group_id}, {"stream_id", mark.stream_id}, {"seq", mark.seq}}});
  return with_connection([&](pqxx::connection& c) {
    pqxx::work tx(c);
    if (locked_mark(tx, mark) >= mark.seq) return false;  // already applied
    check_feed_gaps(tx, {mark}, types, {{mark.stream_id, {mark.seq}}});
    // The row lock queues concurrent updates of this key (from other streams) behind each other.
    tx.exec_prepared("ensure_projection", mark.group_id, key);
    auto state = stored_json(tx.exec_prepared1("lock_projection", mark.group_id, key)[0]);
    auto next = evolve(std::move(state));
    if (next.is_null())
      tx.exec_prepared("delete_projection", mark.group_id, key);
    else
      tx.exec_prepared("save_projection", mark.group_id, key, next.dump());
    tx.exec_prepared("marks", marks.dump());
    tx.commit();
    return true;
  });
}

std::optional<Json> PostgresStore::load_projection(const std::string& group_id, const std::string& key) {
  return with_connection([&](pqxx::connection& c) {
    pqxx::read_transaction tx(c);
    auto rows = tx.exec_prepared("load_projection", group_id, key);
    return rows.empty() ? std::optional<Json>() : std::optional<Json>(stored_json(rows[0][0]));
  });
}

std::vector<ProjectionView> PostgresStore::list_projections(const std::string& group_id,
                                                            const std::string& after_key, size_t limit) {
  return with_connection([&](pqxx::connection& c) {
    pqxx::read_transaction tx(c);
    std::vector<ProjectionView> page;
    for (const auto& r : tx.exec_prepared("projections_page", group_id, after_key, static_cast<int64_t>(limit)))
      page.push_back({r[0].c_str(), stored_json(r[1])});
    return page;
  });
}

void PostgresStore::clear_projections(const std::string& group_id) {
  with_connection([&](pqxx::connection& c) {
    pqxx::work tx(c);
    tx.exec_prepared("clear_projections", group_id);
    tx.commit();
    return 0;
  });
}

}  // namespace cairn
