// Scenario 5: resident memory per idle live stream actor at 10,000 and 100,000 live streams, and
// what is left after they passivate. No PostgreSQL baseline makes sense here: each figure is set
// against the 2 KiB per actor target instead.
#include <malloc.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include <cairn/runtime.hpp>
#include "tests/support/counter_actor.hpp"
#include "tools/benchmark/fixtures.hpp"
#include "tools/benchmark/report.hpp"

namespace cairn::bench {
namespace {

constexpr double target_bytes = 2048;

// Makes the actors of streams [from, to) live: one command each, from 8 client threads. The
// command is rejected (by 0), so nothing is appended: each actor rehydrates its stream's one
// event, decides, and stays live and idle with its state.
void wake(Runtime& runtime, const std::vector<std::string>& streams, size_t from, size_t to) {
  std::atomic<size_t> next{from};
  std::atomic<long> failures{0};
  std::vector<std::thread> clients;
  for (int t = 0; t < 8; ++t)
    clients.emplace_back([&] {
      for (size_t i; (i = next++) < to;)
        if (runtime.handle(streams[i], counter::Increment{0}).status != HandleResult::Status::rejected) ++failures;
    });
  for (auto& t : clients) t.join();
  if (failures > 0) throw std::runtime_error(std::to_string(failures.load()) + " commands were not rejected as expected");
}

std::string mib(double bytes) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f MiB", bytes / (1024.0 * 1024.0));
  return text;
}

}  // namespace

void memory_scenario(const Options& options, Report& report) {
  std::vector<size_t> counts = options.quick ? std::vector<size_t>{1000, 10000} : std::vector<size_t>{10000, 100000};
  const size_t total = counts.back();
  // Long enough that no actor passivates while the others are being created.
  auto idle_timeout = std::chrono::seconds(options.quick ? 10 : 60);
  const std::string prefix = "counter-mem" + std::to_string(getpid()) + "-";
  std::vector<std::string> streams;
  for (size_t i = 0; i < total + 200; ++i) streams.push_back(prefix + std::to_string(i));
  {
    auto store = open_store(options.database_url);
    append_to_each(*store, streams, 1);
  }

  Config config;
  config.database_url = options.database_url;
  config.idle_timeout = idle_timeout;
  config.max_live_actors = 2 * total;  // only the idle timeout passivates here
  Runtime runtime(config);
  counter::install(runtime.app());
  // Warm-up: CAF's threads, the connections and the allocator's arenas exist before the baseline.
  wake(runtime, streams, total, total + 200);
  malloc_trim(0);
  const size_t rss0 = resident_bytes();
  const double heap0 = static_cast<double>(heap_in_use());
  const size_t live0 = runtime.live_actors();

  size_t made = 0;
  for (size_t count : counts) {
    auto start = SteadyClock::now();
    wake(runtime, streams, made, count);
    double seconds = std::chrono::duration<double>(SteadyClock::now() - start).count();
    size_t woken = count - made;
    made = count;
    size_t live = runtime.live_actors();
    double grown = static_cast<double>(resident_bytes()) - static_cast<double>(rss0);
    double per_actor = grown / static_cast<double>(made) - static_cast<double>(sizeof(counter::State));
    double heap = (static_cast<double>(heap_in_use()) - heap0) / static_cast<double>(made);
    char note[240];
    std::snprintf(note, sizeof note,
                  "RSS +%s for %zu actors (%zu live incl. %zu warm-up; %zu more woken at %.0f/s); state %zu B "
                  "excluded; heap in use +%.0f B/actor",
                  mib(grown).c_str(), made, live, live0, woken, static_cast<double>(woken) / seconds,
                  sizeof(counter::State), heap);
    if (grown < 0) std::snprintf(note, sizeof note, "RSS shrank (%s) while %zu actors were woken: the RSS figure is unusable "
                                 "in this process; heap in use +%.0f B/actor", mib(grown).c_str(), made, heap);
    report.add({"memory", std::to_string(count) + " idle live stream actors", per_actor, "bytes/actor",
                "2 KiB target", per_actor / target_bytes, note});
  }

  // Passivation by the idle timeout: wait until no actor is live.
  auto start = SteadyClock::now();
  size_t live = runtime.live_actors();
  while (live > 0 && SteadyClock::now() - start < idle_timeout + std::chrono::seconds(30)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    live = runtime.live_actors();
  }
  double left = static_cast<double>(resident_bytes()) - static_cast<double>(rss0);
  double heap = static_cast<double>(heap_in_use()) - heap0;
  malloc_trim(0);
  double trimmed = static_cast<double>(resident_bytes()) - static_cast<double>(rss0);
  char note[240];
  std::snprintf(note, sizeof note,
                "%zu still live; RSS %+.1f MiB over the baseline (freed, kept by malloc), %+.1f MiB after malloc_trim; "
                "heap in use %+.0f B/actor",
                live, left / 1048576.0, trimmed / 1048576.0, heap / static_cast<double>(total));
  report.add({"memory", "after passivation of " + std::to_string(total) + " actors", left / static_cast<double>(total),
              "bytes/actor", "2 KiB target", left / static_cast<double>(total) / target_bytes, note});
}

}  // namespace cairn::bench
