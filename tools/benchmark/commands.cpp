// Scenario 1: single-event commands across streams and concurrency, group commit on and off,
// against single-row and multi-row INSERT baselines.
#include <atomic>
#include <map>
#include <random>
#include <thread>

#include <pqxx/pqxx>

#include <cairn/runtime.hpp>
#include "tests/support/counter_actor.hpp"
#include "tools/benchmark/report.hpp"

namespace cairn::bench {
namespace {

struct Measured {
  double per_second = 0;
  Latencies latencies;
  long operations = 0;
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

// Runs `op(thread, i)` on `threads` threads for `seconds`; returns operations/s and latencies.
template <class Op>
Measured measure(int threads, double seconds, Op op, int items_per_op = 1) {
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
  Measured m{static_cast<double>(done.load()) / elapsed, {}, done.load()};
  for (auto& l : latencies) m.latencies.merge(l);
  return m;
}

std::string latency_note(Measured& m, const char* per) {
  char text[128];
  std::snprintf(text, sizeof text, "p50 %.2f ms, p99 %.2f ms, WAL %.0f B/%s", m.latencies.percentile(0.5) / 1000,
                m.latencies.percentile(0.99) / 1000, m.wal_bytes, per);
  return text;
}

Measured insert_baseline(const std::string& url, int threads, double seconds, int rows_per_tx) {
  {
    pqxx::connection c(url);
    pqxx::work tx(c);
    tx.exec0("DROP TABLE IF EXISTS bench_baseline");
    tx.exec0("CREATE TABLE bench_baseline (position bigserial PRIMARY KEY, stream_id text NOT NULL, payload jsonb NOT NULL)");
    tx.commit();
  }
  std::vector<std::unique_ptr<pqxx::connection>> connections;
  for (int t = 0; t < threads; ++t) {
    connections.push_back(std::make_unique<pqxx::connection>(url));
    connections.back()->prepare("insert",
                                "INSERT INTO bench_baseline (stream_id, payload) "
                                "SELECT 'stream-' || g, '{\"by\":1}'::jsonb FROM generate_series(1, $1) g");
  }
  double wal = wal_position(url);
  auto measured = measure(
      threads, seconds,
      [&](int t, long) {
        pqxx::work tx(*connections[static_cast<size_t>(t)]);
        tx.exec_prepared("insert", rows_per_tx);
        tx.commit();
      },
      rows_per_tx);
  measured.wal_bytes = (wal_position(url) - wal) / static_cast<double>(measured.operations);
  return measured;
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
  double wal = wal_position(url);
  auto measured = measure(threads, seconds, [&](int t, long) {
    const auto& id = ids[random[static_cast<size_t>(t)]() % ids.size()];
    auto result = runtime.handle(id, counter::Increment{1});
    if (!result.ok()) throw std::runtime_error("command failed: " + result.error);
  });
  measured.wal_bytes = (wal_position(url) - wal) / static_cast<double>(measured.operations);
  return measured;
}

}  // namespace

void commands_scenario(const Options& options, Report& report) {
  std::vector<int> concurrencies = options.quick ? std::vector<int>{1, 16} : std::vector<int>{1, 4, 16};
  std::vector<int> stream_counts = options.quick ? std::vector<int>{1, 1000} : std::vector<int>{1, 16, 1000};
  int run = 0;
  for (int c : concurrencies) {
    auto single = insert_baseline(options.database_url, c, options.seconds(), 1);
    report.add({"commands", "baseline: 1-row INSERT per tx, c=" + std::to_string(c), single.per_second, "rows/s", "",
                0, latency_note(single, "row")});
    auto multi = insert_baseline(options.database_url, c, options.seconds(), 100);
    report.add({"commands", "baseline: 100-row INSERT per tx, c=" + std::to_string(c), multi.per_second, "rows/s",
                "", 0, latency_note(multi, "row")});
    for (int s : stream_counts) {
      for (size_t batch : {size_t{512}, size_t{1}}) {
        auto m = cairn_commands(options.database_url, c, s, batch, options.seconds(), run++);
        report.add({"commands",
                    std::string(batch > 1 ? "group commit" : "no group commit") + ", " + std::to_string(s) +
                        " streams, c=" + std::to_string(c),
                    m.per_second, "cmds/s", "1-row INSERT c=" + std::to_string(c), m.per_second / single.per_second,
                    latency_note(m, "command")});
      }
    }
  }
}

}  // namespace cairn::bench
