// Scenario 2: hot vs cold commands. A command on a live stream actor, against one whose actor must
// first rehydrate from 10, 1,000 or 100,000 stored events, with and without a snapshot. Baseline:
// reading the same rows with one plain libpqxx SELECT, plus one single-row INSERT transaction.
#include <unistd.h>

#include <pqxx/pqxx>

#include <cairn/runtime.hpp>
#include "tests/support/counter_actor.hpp"
#include "tools/benchmark/fixtures.hpp"
#include "tools/benchmark/report.hpp"

namespace cairn::bench {
namespace {

constexpr int snapshot_every = 100;

struct ColdHot {
  Latencies cold, hot;
};

// One fresh runtime per stream: the first command on it rehydrates (cold), the next ones find
// the actor live (hot). Each runtime is warmed on another stream first, so the cold figure holds
// neither CAF's start nor the first connections.
ColdHot cold_and_hot(const Options& options, const std::vector<std::string>& streams, int snapshots, int hot_per_stream) {
  ColdHot out;
  for (size_t i = 0; i < streams.size(); ++i) {
    Config config;
    config.database_url = options.database_url;
    Runtime runtime(config);
    counter::install(runtime.app(), snapshots);
    auto warm = runtime.handle(streams[i] + "-warm", counter::Increment{1});
    if (!warm.ok()) throw std::runtime_error("warm-up command failed: " + warm.error);
    for (int k = 0; k <= hot_per_stream; ++k) {
      auto begin = SteadyClock::now();
      auto result = runtime.handle(streams[i], counter::Increment{1});
      auto elapsed = SteadyClock::now() - begin;
      if (!result.ok()) throw std::runtime_error("command failed: " + result.error);
      (k == 0 ? out.cold : out.hot).add(elapsed);
    }
  }
  return out;
}

std::string p99_note(Latencies& l, const std::string& more) {
  char text[64];
  std::snprintf(text, sizeof text, "p99 %.2f ms", l.percentile(0.99) / 1000);
  return text + (more.empty() ? "" : ", " + more);
}

}  // namespace

void rehydration_scenario(const Options& options, Report& report) {
  std::vector<long> sizes = options.quick ? std::vector<long>{10, 1000, 10000} : std::vector<long>{10, 1000, 100000};
  const int hot_per_stream = options.quick ? 10 : 20;
  const std::string run = "counter-hc" + std::to_string(getpid()) + "-";
  auto store = open_store(options.database_url);
  pqxx::connection raw(options.database_url);
  {
    pqxx::work tx(raw);
    tx.exec0("CREATE TABLE IF NOT EXISTS bench_hotcold (position bigserial PRIMARY KEY, stream_id text NOT NULL, "
             "payload jsonb NOT NULL)");
    tx.commit();
  }
  raw.prepare("read", "SELECT position, id::text, stream_id, seq, type, revision, payload::text, metadata::text, "
                      "created_at, xid::text FROM cairn.messages WHERE stream_id = $1 AND seq <= $2 ORDER BY seq");
  raw.prepare("insert", "INSERT INTO bench_hotcold (stream_id, payload) VALUES ($1, '{\"by\":1}'::jsonb)");
  Latencies all_inserts;

  for (long n : sizes) {
    // Small streams: a fresh stream per cold command (each command appends to it). The largest:
    // one stream shared by every cold command; what they append is under 0.5% of it.
    bool big = n >= 10000;
    int reps = big ? (options.quick ? 3 : 5) : (options.quick ? 5 : 20);
    std::vector<std::string> plain, snapped;
    for (int r = 0; r < (big ? 1 : reps); ++r) {
      plain.push_back(run + std::to_string(n) + "-" + std::to_string(r));
      snapped.push_back(big ? plain.back() : run + std::to_string(n) + "-s" + std::to_string(r));
    }
    std::vector<std::string> to_fill = plain;
    if (!big) to_fill.insert(to_fill.end(), snapped.begin(), snapped.end());
    append_to_each(*store, to_fill, n);
    // The snapshot an actor with snapshot_every(100) would have left: the last multiple of 100.
    int64_t snapshot_seq = n / snapshot_every * snapshot_every;
    if (snapshot_seq > 0)
      for (const auto& s : big ? std::vector<std::string>{snapped.front()} : snapped)
        store->save_snapshot({s, snapshot_seq, 1, Json{{"total", snapshot_seq}, {"count", snapshot_seq}}});
    if (big) {
      plain.assign(static_cast<size_t>(reps), plain.front());
      snapped.assign(static_cast<size_t>(reps), snapped.front());
    }

    // Baseline: the same n rows with one SELECT, then one single-row INSERT transaction.
    Latencies baseline, inserts;
    for (int r = 0; r < reps; ++r) {
      auto begin = SteadyClock::now();
      size_t bytes = 0;
      {
        pqxx::nontransaction tx(raw);
        for (const auto& row : tx.exec_prepared("read", plain[static_cast<size_t>(r)], n))
          for (const auto& field : row) bytes += field.size();
      }
      auto read = SteadyClock::now();
      {
        pqxx::work tx(raw);
        tx.exec_prepared("insert", plain[static_cast<size_t>(r)]);
        tx.commit();
      }
      auto end = SteadyClock::now();
      if (bytes == 0) throw std::runtime_error("the baseline read nothing");
      baseline.add(end - begin);
      inserts.add(end - read);
    }
    all_inserts.merge(inserts);
    double base_ms = baseline.percentile(0.5) / 1000;
    std::string ns = std::to_string(n);
    report.add({"hot/cold", "baseline: SELECT " + ns + " rows of one stream + 1-row INSERT", base_ms, "ms p50", "", 0,
                p99_note(baseline, std::to_string(reps) + " runs")});

    auto without = cold_and_hot(options, plain, 0, hot_per_stream);
    report.add({"hot/cold", "cold command, " + ns + " events, no snapshot", without.cold.percentile(0.5) / 1000,
                "ms p50", "SELECT " + ns + " rows + INSERT", without.cold.percentile(0.5) / 1000 / base_ms,
                p99_note(without.cold, "rehydrates " + ns + " events")});
    auto with = cold_and_hot(options, snapped, snapshot_every, hot_per_stream);
    report.add({"hot/cold", "cold command, " + ns + " events, snapshot every " + std::to_string(snapshot_every),
                with.cold.percentile(0.5) / 1000, "ms p50", "SELECT " + ns + " rows + INSERT",
                with.cold.percentile(0.5) / 1000 / base_ms,
                p99_note(with.cold, snapshot_seq > 0 ? "snapshot at seq " + std::to_string(snapshot_seq) +
                                                           " + the events after it"
                                                     : "no snapshot yet: rehydrates " + ns + " events")});
    without.hot.merge(with.hot);
    report.add({"hot/cold", "hot command, stream of " + ns + " events", without.hot.percentile(0.5) / 1000, "ms p50",
                "1-row INSERT tx", without.hot.percentile(0.5) / inserts.percentile(0.5),
                p99_note(without.hot, std::to_string(without.hot.micros.size()) + " commands, c=1")});
  }
  report.add({"hot/cold", "baseline: 1-row INSERT tx", all_inserts.percentile(0.5) / 1000, "ms p50", "", 0,
              p99_note(all_inserts, "")});
}

}  // namespace cairn::bench
