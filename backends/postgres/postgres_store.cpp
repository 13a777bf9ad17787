#include "backends/postgres/postgres_store.hpp"

#include <algorithm>
#include <map>
#include <set>

#include "backends/append_rules.hpp"
#include "backends/postgres/migrations.hpp"
#include "runtime/errors.hpp"

namespace cairn {
namespace {

// The columns every message read selects, in the order row_to_message expects. The text casts
// get their own names: an ORDER BY xid must sort the xid8 column, not its text.
#define CAIRN_MESSAGE_COLUMNS                                                                                 \
  "position, id::text AS id_text, stream_id, seq, type, revision, payload::text, metadata::text, "                      \
  "(extract(epoch FROM created_at) * 1000000)::bigint, xid::text AS xid_text"

// Timestamps cross the wire as microseconds since the epoch, exactly.
#define CAIRN_FROM_MICROS(p) "('epoch'::timestamptz + " p "::bigint * interval '1 microsecond')"

void prepare_statements(pqxx::connection& c) {
  c.prepare("lock_streams", "SELECT cairn.lock_streams($1::bigint[])");
  c.prepare("heads",
            "SELECT stream_id, head_seq FROM cairn.streams "
            "WHERE stream_id IN (SELECT jsonb_array_elements_text($1::jsonb))");
  c.prepare("by_ids", "SELECT " CAIRN_MESSAGE_COLUMNS
                      " FROM cairn.messages WHERE id IN (SELECT jsonb_array_elements_text($1::jsonb)::uuid)");
  c.prepare("insert",
            "INSERT INTO cairn.messages (id, stream_id, seq, type, revision, payload, metadata, stream_hash) "
            "SELECT (m->>'id')::uuid, m->>'stream_id', (m->>'seq')::bigint, m->>'type', (m->>'revision')::int, "
            "m->'payload', m->'metadata', (m->>'stream_hash')::bigint "
            "FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS t(m, i) ORDER BY i "
            "RETURNING id::text, position, (extract(epoch FROM created_at) * 1000000)::bigint");
  c.prepare("set_heads",
            "INSERT INTO cairn.streams (stream_id, head_seq, updated_at) "
            "SELECT key, value::bigint, now() FROM jsonb_each_text($1::jsonb) "
            "ON CONFLICT (stream_id) DO UPDATE SET head_seq = excluded.head_seq, updated_at = excluded.updated_at");
  c.prepare("read_stream", "SELECT " CAIRN_MESSAGE_COLUMNS
                           " FROM cairn.messages WHERE stream_id = $1 AND seq > $2 AND seq <= $3 "
                           "AND created_at <= " CAIRN_FROM_MICROS("$4") " ORDER BY seq");
  c.prepare("head", "SELECT head_seq FROM cairn.streams WHERE stream_id = $1");
  c.prepare("find", "SELECT " CAIRN_MESSAGE_COLUMNS " FROM cairn.messages WHERE id = $1::uuid");
  // Only transactions older than every running one are final: nothing can commit below this horizon.
  c.prepare("feed", "SELECT " CAIRN_MESSAGE_COLUMNS
                    " FROM cairn.messages WHERE (xid, position) > ($1::xid8, $2::bigint) "
                    "AND xid < pg_snapshot_xmin(pg_current_snapshot()) "
                    "AND ($3::jsonb = '[]'::jsonb OR type IN (SELECT jsonb_array_elements_text($3::jsonb))) "
                    "AND ($4::bigint <= 1 OR stream_hash % $4::bigint = $5::bigint) "
                    "ORDER BY xid, position LIMIT $6");
  c.prepare("correlation", "SELECT " CAIRN_MESSAGE_COLUMNS
                           " FROM cairn.messages WHERE metadata->>'correlation_id' = $1 ORDER BY position");
  c.prepare("save_snapshot",
            "INSERT INTO cairn.snapshots (stream_id, seq, state_revision, state) VALUES ($1, $2, $3, $4::jsonb) "
            "ON CONFLICT (stream_id) DO UPDATE SET seq = excluded.seq, state_revision = excluded.state_revision, "
            "state = excluded.state, created_at = now() WHERE cairn.snapshots.seq <= excluded.seq");
  c.prepare("load_snapshot", "SELECT seq, state_revision, state::text FROM cairn.snapshots WHERE stream_id = $1");
  c.prepare("schedule",
            "INSERT INTO cairn.scheduled_messages (id, stream_id, due_at, message) "
            "VALUES ($1::uuid, $2, " CAIRN_FROM_MICROS("$3") ", $4::jsonb) ON CONFLICT (id) DO NOTHING");
  c.prepare("due", "SELECT DISTINCT stream_id FROM (SELECT stream_id FROM cairn.scheduled_messages WHERE due_at <= "
                   CAIRN_FROM_MICROS("$1") " ORDER BY due_at, id LIMIT $2) d");
  // The DELETE is the claim: of two promoters, the one that deletes a row appends it.
  c.prepare("claim_due", "DELETE FROM cairn.scheduled_messages WHERE id IN (SELECT id FROM cairn.scheduled_messages "
                         "WHERE due_at <= " CAIRN_FROM_MICROS("$1") " AND stream_id IN "
                         "(SELECT jsonb_array_elements_text($2::jsonb)) ORDER BY due_at, id LIMIT $3) "
                         "RETURNING message::text");
  c.prepare("streams",
            "SELECT stream_id, head_seq, (extract(epoch FROM updated_at) * 1000000)::bigint "
            "FROM cairn.streams ORDER BY updated_at DESC, stream_id LIMIT $1");
}

Timestamp from_micros(int64_t micros) { return Timestamp(std::chrono::microseconds(micros)); }

Message row_to_message(const pqxx::row& r) {
  Message m;
  m.position = r[0].as<int64_t>();
  m.id = r[1].c_str();
  m.stream_id = r[2].c_str();
  m.seq = r[3].as<int64_t>();
  m.type = r[4].c_str();
  m.revision = r[5].as<int>();
  m.payload = Json::parse(r[6].c_str());
  m.metadata = Json::parse(r[7].c_str());
  m.created_at = from_micros(r[8].as<int64_t>());
  return m;
}

FeedEntry row_to_entry(const pqxx::row& r) {
  return {row_to_message(r), {r[9].as<uint64_t>(), r[0].as<int64_t>()}};
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

void lock_streams(pqxx::work& tx, const std::set<std::string>& streams) {
  std::set<int64_t> keys;
  for (const auto& s : streams) keys.insert(stream_lock_key(s));
  std::string array = "{";
  for (auto k : keys) array += (array.size() > 1 ? "," : "") + std::to_string(k);
  tx.exec_prepared("lock_streams", array + "}");
}

// Writes the valid requests; the caller already holds the write locks of their streams.
std::vector<AppendOutcome> write_locked(pqxx::work& tx, std::vector<AppendRequest>& requests,
                                        const std::vector<std::string>& errors) {
  std::vector<AppendOutcome> outcomes(requests.size());
  Json stream_ids = Json::array(), ids = Json::array();
  for (size_t i = 0; i < requests.size(); ++i) {
    if (!errors[i].empty()) continue;
    stream_ids.push_back(requests[i].stream_id);
    for (const auto& m : requests[i].messages) ids.push_back(m.id);
  }
  std::map<std::string, int64_t> heads;
  for (const auto& r : tx.exec_prepared("heads", stream_ids.dump())) heads[r[0].c_str()] = r[1].as<int64_t>();
  std::map<std::string, Message> stored;
  for (const auto& r : tx.exec_prepared("by_ids", ids.dump())) {
    auto m = row_to_message(r);
    stored.emplace(m.id, std::move(m));
  }

  Json rows = Json::array(), new_heads = Json::object();
  std::vector<std::pair<size_t, size_t>> written;  // (request, message) of each row, in order
  for (size_t i = 0; i < requests.size(); ++i) {
    auto& request = requests[i];
    auto& outcome = outcomes[i];
    if (!errors[i].empty()) {
      outcome.error = errors[i];
      continue;
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
        break;
      case AppendDecision::Kind::write:
        outcome.status = AppendOutcome::Status::appended;
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
        outcome.head_seq = head;
        new_heads[request.stream_id] = head;
        break;
    }
  }
  if (written.empty()) return outcomes;

  std::map<std::string, std::pair<int64_t, int64_t>> assigned;  // id -> (position, created_at)
  for (const auto& r : tx.exec_prepared("insert", rows.dump()))
    assigned[r[0].c_str()] = {r[1].as<int64_t>(), r[2].as<int64_t>()};
  tx.exec_prepared("set_heads", new_heads.dump());
  for (auto [i, k] : written) {
    auto& m = requests[i].messages[k];
    std::tie(m.position, m.created_at) = std::pair(assigned.at(m.id).first, from_micros(assigned.at(m.id).second));
    outcomes[i].messages.push_back(m);
  }
  return outcomes;
}

bool is_unique_violation(const pqxx::sql_error& e) { return e.sqlstate() == "23505"; }

}  // namespace

template <class Work>
auto PostgresStore::with_connection(Work&& work) {
  try {
    return pool_.run(std::forward<Work>(work));
  } catch (const Error&) {
    throw;
  } catch (const pqxx::failure& e) {
    throw StoreError(std::string("PostgreSQL: ") + e.what());
  }
}

PostgresStore::PostgresStore(const std::string& url, Limits limits, size_t pool_size)
    : Store(limits), pool_(url, pool_size, prepare_statements) {
  int have = postgres::schema_version(url);
  int want = postgres::embedded_migrations().back().version;
  if (have < want)
    throw StoreError("the database schema is at version " + std::to_string(have) + ", this build needs " +
                     std::to_string(want) + ": run `cairn migrate`");
}

std::vector<AppendOutcome> PostgresStore::append_batch(std::vector<AppendRequest>& requests,
                                                       const std::vector<std::string>& errors) {
  return pool_.run([&](pqxx::connection& c) {
    pqxx::work tx(c);
    std::set<std::string> streams;
    for (size_t i = 0; i < requests.size(); ++i)
      if (errors[i].empty()) streams.insert(requests[i].stream_id);
    if (!streams.empty()) lock_streams(tx, streams);
    auto outcomes = write_locked(tx, requests, errors);
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

std::vector<Message> PostgresStore::read_stream(std::string_view stream_id, const StreamRange& range) {
  return with_connection([&](pqxx::connection& c) {
    pqxx::read_transaction tx(c);
    return rows_to_messages(tx.exec_prepared("read_stream", std::string(stream_id), range.after_seq,
                                             range.upto_seq.value_or(std::numeric_limits<int64_t>::max()),
                                             range.upto_time ? range.upto_time->time_since_epoch().count()
                                                             : std::numeric_limits<int64_t>::max() / 2));
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
  Json types = filter.types;
  return with_connection([&](pqxx::connection& c) {
    pqxx::read_transaction tx(c);
    std::vector<FeedEntry> out;
    for (const auto& r : tx.exec_prepared("feed", std::to_string(after.xid), after.position, types.dump(),
                                          static_cast<int64_t>(filter.slice_count),
                                          static_cast<int64_t>(filter.slice), static_cast<int64_t>(limit)))
      out.push_back(row_to_entry(r));
    return out;
  });
}

std::vector<Message> PostgresStore::read_correlation(std::string_view correlation_id) {
  return with_connection([&](pqxx::connection& c) {
    pqxx::read_transaction tx(c);
    return rows_to_messages(tx.exec_prepared("correlation", std::string(correlation_id)));
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
                                            rows[0][1].as<int>(), Json::parse(rows[0][2].c_str())});
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

std::vector<Message> PostgresStore::promote_due(Timestamp now, size_t limit) {
  auto micros = now.time_since_epoch().count();
  try {
    return pool_.run([&](pqxx::connection& c) {
      std::set<std::string> streams;
      {
        pqxx::read_transaction candidates(c);
        for (const auto& r : candidates.exec_prepared("due", micros, static_cast<int64_t>(limit)))
          streams.insert(r[0].c_str());
      }
      if (streams.empty()) return std::vector<Message>();
      pqxx::work tx(c);
      lock_streams(tx, streams);  // before the claim gives this transaction its xid
      Json stream_ids = Json::array();
      for (const auto& s : streams) stream_ids.push_back(s);
      std::vector<AppendRequest> requests;
      for (const auto& r : tx.exec_prepared("claim_due", micros, stream_ids.dump(), static_cast<int64_t>(limit))) {
        auto m = Json::parse(r[0].c_str()).get<Message>();
        requests.push_back({m.stream_id, ExpectedSeq::any(), {std::move(m)}});
      }
      std::vector<Message> promoted;
      for (auto& outcome : write_locked(tx, requests, std::vector<std::string>(requests.size())))
        for (auto& m : outcome.messages) promoted.push_back(std::move(m));
      tx.commit();
      return promoted;
    });
  } catch (const pqxx::failure& e) {
    throw StoreError(std::string("promoting scheduled messages failed: ") + e.what());
  }
}

std::vector<StreamInfo> PostgresStore::list_streams(size_t limit) {
  return with_connection([&](pqxx::connection& c) {
    pqxx::read_transaction tx(c);
    std::vector<StreamInfo> out;
    for (const auto& r : tx.exec_prepared("streams", static_cast<int64_t>(limit)))
      out.push_back({r[0].c_str(), r[1].as<int64_t>(), from_micros(r[2].as<int64_t>())});
    return out;
  });
}

}  // namespace cairn
