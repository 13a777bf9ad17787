// Scenario 1: single-event commands across streams and concurrency, group commit on and off,
// against single-row and multi-row INSERT baselines and a command's own writes in plain SQL.
#include <algorithm>
#include <atomic>
#include <cstdio>
#include <map>
#include <random>
#include <thread>

#include <pqxx/pqxx>

#include <cairn/message.hpp>
#include <cairn/runtime.hpp>
#include "tests/support/counter_actor.hpp"
#include "tools/benchmark/report.hpp"

namespace cairn::bench {
namespace {

struct Measured {
  double per_second = 0;
  Latencies latencies;
  double wal_bytes = 0;  // WAL written per operation (row or command), all sessions included
};

// Where the server's WAL ends: the difference over a run is what the run wrote. It moves far less
// between runs than throughput does (full-page images after a checkpoint aside), so it shows a
// change to the write path's cost on its own.
double wal_position(const std::string& url) {
  pqxx::connection c(url);
  pqxx::nontransaction tx(c);
  return tx.exec1("SELECT pg_current_wal_insert_lsn() - '0/0'::pg_lsn")[0].as<double>();
}

// Starts a measurement on a clean slate: a checkpoint now, so that none started by the writes
// before it (the 100-row baseline writes ~50 MB of WAL a second) flushes the data files in the
// middle of this one. Such a flush stalled whichever variant it met: one-stream p99 of 6-21 ms at c=16 in
// full runs, 2.8-5.6 ms in commands-only runs. Skipped where the role may not checkpoint.
void checkpoint(const std::string& url) {
  pqxx::connection c(url);
  pqxx::nontransaction tx(c);
  if (tx.exec1("SELECT rolsuper OR pg_has_role('pg_checkpoint', 'MEMBER') FROM pg_roles WHERE rolname = current_user")[0]
          .as<bool>())
    tx.exec0("CHECKPOINT");
}

// Runs `op(thread, i)` on `threads` threads for `seconds`; returns operations/s, latencies and the
// WAL the server wrote per item.
template <class Op>
Measured measure(const std::string& url, int threads, double seconds, Op op, int items_per_op = 1) {
  checkpoint(url);
  double wal = wal_position(url);
  std::atomic<bool> stop{false};
  std::atomic<long> done{0};
  std::vector<Latencies> latencies(static_cast<size_t>(threads));
  std::vector<std::thread> pool;
  auto start = SteadyClock::now();
  for (int t = 0; t < threads; ++t)
    pool.emplace_back([&, t] {
      for (long i = 0; !stop.load(std::memory_order_relaxed); ++i) {
        auto begin = SteadyClock::now();
        op(t, i);
        latencies[static_cast<size_t>(t)].add(SteadyClock::now() - begin);
        done += items_per_op;
      }
    });
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop = true;
  for (auto& t : pool) t.join();
  double elapsed = std::chrono::duration<double>(SteadyClock::now() - start).count();
  Measured m{static_cast<double>(done.load()) / elapsed, {}};
  for (auto& l : latencies) m.latencies.merge(l);
  m.wal_bytes = (wal_position(url) - wal) / static_cast<double>(done.load());
  return m;
}

std::string latency_note(Measured& m, const char* per) {
  char text[128];
  std::snprintf(text, sizeof text, "p50 %.2f ms, p99 %.2f ms, WAL %.0f B/%s", m.latencies.percentile(0.5) / 1000,
                m.latencies.percentile(0.99) / 1000, m.wal_bytes, per);
  return text;
}

using Sessions = std::vector<std::unique_ptr<pqxx::connection>>;

// Runs `setup` (a baseline's tables, made anew) and opens a session per thread with `sql` prepared.
Sessions baseline_sessions(const std::string& url, int threads, const std::vector<std::string>& setup,
                           const std::string& sql) {
  {
    pqxx::connection c(url);
    pqxx::work tx(c);
    for (const auto& statement : setup) tx.exec0(statement);
    tx.commit();
  }
  Sessions sessions;
  for (int t = 0; t < threads; ++t) {
    sessions.push_back(std::make_unique<pqxx::connection>(url));
    sessions.back()->prepare("baseline", sql);
  }
  return sessions;
}

Measured insert_baseline(const std::string& url, int threads, double seconds, int rows_per_tx) {
  auto sessions = baseline_sessions(
      url, threads,
      {"DROP TABLE IF EXISTS bench_baseline",
       "CREATE TABLE bench_baseline (position bigserial PRIMARY KEY, stream_id text NOT NULL, payload jsonb NOT NULL)"},
      "INSERT INTO bench_baseline (stream_id, payload) "
      "SELECT 'stream-' || g, '{\"by\":1}'::jsonb FROM generate_series(1, $1) g");
  return measure(
      url, threads, seconds,
      [&](int t, long) {
        pqxx::work tx(*sessions[static_cast<size_t>(t)]);
        tx.exec_prepared("baseline", rows_per_tx);
        tx.commit();
      },
      rows_per_tx);
}

// What a command writes, in plain SQL, one transaction per command: its row and its event's in a
// table with the log's columns and indexes, and the stream's head in a copy of cairn.streams.
// Each thread has its own streams (1000 in all), so no lock is needed: the raw cost of the same
// durable work, without the runtime (no decide, no stream lock, no group commit).
Measured same_writes_baseline(const std::string& url, int threads, double seconds) {
  auto sessions = baseline_sessions(
      url, threads,
      {"DROP TABLE IF EXISTS bench_log, bench_heads", "CREATE TABLE bench_log (LIKE cairn.messages INCLUDING ALL)",
       "CREATE TABLE bench_heads (LIKE cairn.streams INCLUDING ALL)"},
      "WITH rows AS (INSERT INTO bench_log (id, stream_id, seq, type, payload, metadata, stream_hash) VALUES "
      "($1::uuid, $3, $4, 'counter.increment', '{\"by\":1}', jsonb_build_object('correlation_id', $1), 0), "
      "($2::uuid, $3, $4 + 1, 'counter.incremented', '{\"by\":1}', "
      " jsonb_build_object('correlation_id', $1, 'causation_id', $1, 'producer', 'counter'), 0)) "
      "INSERT INTO bench_heads (stream_id, head_seq) VALUES ($3, $4 + 1) "
      "ON CONFLICT (stream_id) DO UPDATE SET head_seq = excluded.head_seq, updated_at = now()");
  int per_thread = std::max(1, 1000 / threads);
  std::vector<std::vector<long>> heads(static_cast<size_t>(threads), std::vector<long>(static_cast<size_t>(per_thread)));
  return measure(url, threads, seconds, [&](int t, long i) {
    auto k = static_cast<size_t>(i % per_thread);
    auto& head = heads[static_cast<size_t>(t)][k];
    pqxx::work tx(*sessions[static_cast<size_t>(t)]);
    tx.exec_prepared("baseline", new_uuid(), new_uuid(), "s-" + std::to_string(t) + "-" + std::to_string(k), head + 1);
    tx.commit();
    head += 2;
  });
}

Measured cairn_commands(const std::string& url, int threads, int streams, size_t writer_batch, double seconds,
                        int run) {
  Config config;
  config.database_url = url;
  config.writer_batch = writer_batch;
  config.pool_size = 4;
  Runtime runtime(config);
  counter::install(runtime.app());
  std::vector<std::string> ids;
  for (int s = 0; s < streams; ++s) ids.push_back("counter-r" + std::to_string(run) + "-" + std::to_string(s));
  for (const auto& id : ids) runtime.handle(id, counter::Increment{1});  // warm: every actor live
  std::vector<std::mt19937> random;
  for (int t = 0; t < threads; ++t) random.emplace_back(static_cast<unsigned>(t));
  return measure(url, threads, seconds, [&](int t, long) {
    const auto& id = ids[random[static_cast<size_t>(t)]() % ids.size()];
    auto result = runtime.handle(id, counter::Increment{1});
    if (!result.ok()) throw std::runtime_error("command failed: " + result.error);
  });
}

}  // namespace

void commands_scenario(const Options& options, Report& report) {
  std::vector<int> concurrencies = options.quick ? std::vector<int>{1, 16} : std::vector<int>{1, 4, 16};
  std::vector<int> stream_counts = options.quick ? std::vector<int>{1, 1000} : std::vector<int>{1, 16, 1000};
  const int headline_streams = 1000;
  const int rounds = options.quick ? 1 : 3;
  int run = 0;
  for (int c : concurrencies) {
    // The headline, group commit over 1000 streams, in rounds, each right after a 1-row INSERT
    // baseline round of its own; the other variants against the median baseline.
    Rounds headline("a 1-row INSERT round");
    std::vector<Measured> singles, headlines;
    for (int round = 0; round < rounds; ++round) {
      singles.push_back(insert_baseline(options.database_url, c, options.seconds(), 1));
      headlines.push_back(cairn_commands(options.database_url, c, headline_streams, 512, options.seconds(), run++));
      headline.add(headlines.back().per_second, singles.back().per_second);
    }
    auto median_round = headline.median_round();
    auto& single = singles[median_round];
    double single_rate = Rounds::median(headline.baselines);
    auto [low, high] = std::minmax_element(headline.baselines.begin(), headline.baselines.end());
    char range[96];
    std::snprintf(range, sizeof range, "median of %d rounds, %.0f-%.0f rows/s", rounds, *low, *high);
    report.add({"commands", "baseline: 1-row INSERT per tx, c=" + std::to_string(c), single_rate, "rows/s", "", 0,
                joined(latency_note(single, "row"), rounds > 1 ? range : "")});
    auto multi = insert_baseline(options.database_url, c, options.seconds(), 100);
    report.add({"commands", "baseline: 100-row INSERT per tx, c=" + std::to_string(c), multi.per_second, "rows/s",
                "", 0, latency_note(multi, "row")});
    auto same = same_writes_baseline(options.database_url, c, options.seconds());
    report.add({"commands", "baseline: a command's writes in SQL (2 rows + head) per tx, c=" + std::to_string(c),
                same.per_second, "cmds/s", "", 0, latency_note(same, "command")});
    for (int s : stream_counts) {
      for (size_t batch : {size_t{512}, size_t{1}}) {
        bool is_headline = s == headline_streams && batch > 1;
        auto m = is_headline ? headlines[median_round]
                             : cairn_commands(options.database_url, c, s, batch, options.seconds(), run++);
        double rate = is_headline ? headline.rate() : m.per_second;
        double ratio = is_headline ? headline.ratio() : m.per_second / single_rate;
        char against_same[64];
        std::snprintf(against_same, sizeof against_same, "; %.2fx the same writes in SQL", rate / same.per_second);
        report.add({"commands",
                    std::string(batch > 1 ? "group commit" : "no group commit") + ", " + std::to_string(s) +
                        " streams, c=" + std::to_string(c),
                    rate, "cmds/s", "1-row INSERT c=" + std::to_string(c), ratio,
                    joined(latency_note(m, "command") + against_same, is_headline ? headline.note() : "")});
      }
    }
  }
}

}  // namespace cairn::bench
