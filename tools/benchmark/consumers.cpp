// Scenarios 3 and 4: catch-up of a no-op consumer group and of a transactional (SQL) projector over
// stored events (against a plain sequential read of the same rows), and live lag from append to
// handled under steady load.
#include <algorithm>
#include <atomic>
#include <cstdio>
#include <functional>
#include <mutex>
#include <thread>
#include <unordered_map>

#include <pqxx/pqxx>

#include <cairn/runtime.hpp>
#include <cairn/sql_projector.hpp>
#include "tests/support/counter_actor.hpp"
#include "tools/benchmark/fixtures.hpp"
#include "tools/benchmark/report.hpp"

namespace cairn::bench {
namespace {

WorkerOptions quiet() {
  WorkerOptions options;
  options.poll_interval = std::chrono::milliseconds(20);
  options.log = [](const LogRecord&) {};
  return options;
}

// A catch-up measure taken `rounds` times, each right after a COPY read of its own.
Rounds measure_rounds(int rounds, const std::string& url, const std::function<double(int round)>& measure) {
  Rounds r("a COPY read");
  for (int round = 0; round < rounds; ++round) {
    double baseline = copy_read(url).per_second;
    r.add(measure(round), baseline);
  }
  return r;
}

// Runs one group from the start of the log, in batches of 2000, until `counted` reaches `until`: events/s.
double catch_up_rate(Runtime& runtime, const std::string& group, const std::atomic<long>& counted, long until) {
  auto worker = quiet();
  worker.groups = {group};
  worker.batch_size = 2000;
  auto start = SteadyClock::now();
  runtime.start_consumers(worker);
  while (counted.load() < until) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  double rate = static_cast<double>(counted.load()) / std::chrono::duration<double>(SteadyClock::now() - start).count();
  runtime.stop_consumers();
  return rate;
}

}  // namespace

void catch_up_scenario(const Options& options, Report& report) {
  long events = options.quick ? 50000 : 1000000;
  int rounds = options.quick ? 1 : 3;
  {
    pqxx::connection c(options.database_url);
    pqxx::work tx(c);
    tx.exec0("TRUNCATE cairn.messages, cairn.streams, cairn.consumer_groups CASCADE");
    tx.commit();
  }
  Config config;
  config.database_url = options.database_url;
  append_spread(Runtime(config).store(), events, "catchup-");
  analyze(options.database_url);
  std::vector<double> baselines;
  auto keep_baselines = [&](const Rounds& r) { baselines.insert(baselines.end(), r.baselines.begin(), r.baselines.end()); };

  // A fresh application each round, with a group of its own that starts at the beginning of the log.
  auto noop = measure_rounds(rounds, options.database_url, [&](int round) {
    std::atomic<long> seen{0};
    Runtime runtime(config);
    auto group = side_effect("bench.noop." + std::to_string(round));
    group->on<counter::Incremented>([&](const counter::Incremented&, const Message&) { ++seen; });
    counter::install(runtime.app());
    runtime.add(group);
    return catch_up_rate(runtime, group->options().group, seen, events);
  });
  keep_baselines(noop);

  // Transactional projectors: read-model rows and the streams' marks commit together, one durable
  // transaction per stream handler's share of a feed batch. Timed over the first `projected` events,
  // each round into a new table (inserts, as the first round's are, not updates).
  long projected = options.quick ? 5000 : 100000;
  auto project = [&](const std::string& variant, const std::string& how,
                     const std::function<void(SqlProjector&, std::atomic<long>&)>& handlers) {
    auto table = "public.bench_totals_" + variant;
    auto r = measure_rounds(rounds, options.database_url, [&](int round) {
      {
        pqxx::connection c(options.database_url);
        pqxx::work tx(c);
        tx.exec0("DROP TABLE IF EXISTS " + table);
        tx.commit();
      }
      std::atomic<long> applied{0};
      auto totals = sql_projector("bench.totals." + variant + "." + std::to_string(round));
      totals->table(table, "CREATE TABLE IF NOT EXISTS " + table +
                               " (stream_id text PRIMARY KEY, total bigint NOT NULL, events bigint NOT NULL)");
      handlers(*totals, applied);
      Runtime runtime(config);
      counter::install(runtime.app());
      runtime.add(totals);
      runtime.migrate();
      return catch_up_rate(runtime, totals->options().group, applied, projected);
    });
    keep_baselines(r);
    return std::make_pair(r, "SQL projector (" + how + "), first " + std::to_string(projected) + " of " +
                                 std::to_string(events) + " events");
  };
  auto each = project("each", "upsert per event", [](SqlProjector& totals, std::atomic<long>& applied) {
    totals.on<counter::Incremented>([&applied](pqxx::work& tx, const counter::Incremented& e, const Message& m) {
      tx.exec_params("INSERT INTO public.bench_totals_each VALUES ($1, $2, 1) ON CONFLICT (stream_id) DO UPDATE SET "
                     "total = public.bench_totals_each.total + excluded.total, events = public.bench_totals_each.events + 1",
                     m.stream_id, e.by);
      ++applied;
    });
  });
  // The same read model through on_batch: a run's increments summed per stream, one upsert.
  auto batch = project("batch", "upsert per run, on_batch", [](SqlProjector& totals, std::atomic<long>& applied) {
    totals.on_batch<counter::Incremented>(
        [&applied](pqxx::work& tx, const std::vector<Envelope<counter::Incremented>>& run) {
          std::unordered_map<std::string_view, std::pair<long, long>> sums;
          for (const auto& [e, m] : run) {
            auto& [total, count] = sums[m.stream_id];
            total += e.by;
            ++count;
          }
          Json upserts = Json::array();
          for (const auto& [stream, sum] : sums) upserts.push_back({std::string(stream), sum.first, sum.second});
          tx.exec_params("INSERT INTO public.bench_totals_batch SELECT r->>0, (r->>1)::bigint, (r->>2)::bigint "
                         "FROM jsonb_array_elements($1::jsonb) r ON CONFLICT (stream_id) DO UPDATE SET "
                         "total = public.bench_totals_batch.total + excluded.total, "
                         "events = public.bench_totals_batch.events + excluded.events",
                         upserts.dump());
          applied += static_cast<long>(run.size());
        });
  });

  auto [low, high] = std::minmax_element(baselines.begin(), baselines.end());
  char range[96];
  std::snprintf(range, sizeof range, "median of %zu reads, %.0f-%.0f rows/s", baselines.size(), *low, *high);
  report.add({"catch-up", "baseline: sequential read (COPY) of " + std::to_string(events) + " rows",
              Rounds::median(baselines), "rows/s", "", 0, baselines.size() > 1 ? range : ""});
  report.add({"catch-up", "no-op consumer group over " + std::to_string(events) + " events", noop.rate(), "events/s",
              "sequential read", noop.ratio(), joined("4 slices, batches of 2000", noop.note())});
  const std::string sql_note = "batches of 2000, one transaction per stream handler's share of a feed batch (rows + every "
                               "stream's mark), 4 stream handlers, ";
  report.add({"catch-up", each.second, each.first.rate(), "events/s", "sequential read", each.first.ratio(),
              joined(sql_note + "one INSERT round trip per event", each.first.note())});
  report.add({"catch-up", batch.second, batch.first.rate(), "events/s", "sequential read", batch.first.ratio(),
              joined(sql_note + "one INSERT per run of events", batch.first.note())});
}

void live_lag_scenario(const Options& options, Report& report) {
  Config config;
  config.database_url = options.database_url;
  Runtime runtime(config);
  counter::install(runtime.app());
  std::mutex mutex;
  Latencies lag;
  auto probe = side_effect("bench.lag");
  probe->start(StartFrom::now()).on<counter::Incremented>([&](const counter::Incremented&, const Message& m) {
    std::lock_guard lock(mutex);
    lag.add(std::chrono::system_clock::now() - m.created_at);
  });
  runtime.add(probe);
  auto worker = quiet();
  worker.groups = {"bench.lag"};
  runtime.start_consumers(worker);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  // Steady load: 4 clients, each 1 command every 5 ms across 100 streams.
  std::atomic<bool> stop{false};
  std::vector<std::thread> clients;
  for (int c = 0; c < 4; ++c)
    clients.emplace_back([&, c] {
      for (int i = 0; !stop; ++i) {
        runtime.handle("counter-lag-" + std::to_string((c * 25 + i) % 100), counter::Increment{1});
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
    });
  std::this_thread::sleep_for(std::chrono::duration<double>(options.seconds() * 2));
  stop = true;
  for (auto& t : clients) t.join();
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  runtime.stop_consumers();
  std::lock_guard lock(mutex);
  char note[96];
  std::snprintf(note, sizeof note, "p50 %.2f ms, p99 %.2f ms over %zu events", lag.percentile(0.5) / 1000,
                lag.percentile(0.99) / 1000, lag.micros.size());
  report.add({"live lag", "append (tx start) -> side-effect handler, same process", lag.percentile(0.5) / 1000, "ms p50",
              "", 0, note});
}

}  // namespace cairn::bench
