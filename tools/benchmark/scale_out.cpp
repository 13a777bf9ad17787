// Scenario 6: scale-out. 1, 2 and 4 `cairn-worker` processes share one consumer group (4 slices)
// over stored events; events/s until the group's progress reaches the head. Baseline: 1 worker
// (ratio = speedup), and for 1 worker a plain sequential read of the same rows.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <thread>

#include <pqxx/pqxx>

#include "tools/benchmark/fixtures.hpp"
#include "tools/benchmark/report.hpp"

extern char** environ;

namespace cairn::bench {
namespace {

constexpr uint32_t slices = 4;  // the module's group: one slice each for 4 processes

// A cairn-worker process; stopped (SIGTERM, then SIGKILL) when this goes away.
class Worker {
 public:
  Worker(const Options& options, const std::string& group, const std::string& log) : log_(log) {
    std::vector<std::string> args{options.worker_path, "--app",      options.module_path, "--db",
                                  options.database_url, "--groups", group,
                                  "--batch",            "2000",     "--poll-ms",         "2000"};
    std::vector<std::string> env{"CAIRN_BENCH_GROUP=" + group};
    for (char** e = environ; *e; ++e)
      if (std::string_view(*e).substr(0, 18) != "CAIRN_BENCH_GROUP=") env.emplace_back(*e);
    std::vector<char*> argv, envp;
    for (auto& a : args) argv.push_back(a.data());
    for (auto& e : env) envp.push_back(e.data());
    argv.push_back(nullptr);
    envp.push_back(nullptr);
    posix_spawn_file_actions_t files;
    posix_spawn_file_actions_init(&files);
    posix_spawn_file_actions_addopen(&files, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_adddup2(&files, 1, 2);
    int error = posix_spawn(&pid_, argv[0], &files, nullptr, argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&files);
    if (error != 0) throw std::runtime_error("cannot start " + options.worker_path + ": " + std::strerror(error));
  }
  ~Worker() { stop(); }
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  std::string owner() const {
    char host[256] = "";
    gethostname(host, sizeof host - 1);
    return std::string(host) + ":" + std::to_string(pid_);
  }
  bool running() const { return pid_ > 0 && waitpid(pid_, nullptr, WNOHANG) == 0; }
  void stop() {
    if (pid_ <= 0) return;
    kill(pid_, SIGTERM);
    for (int i = 0; i < 100; ++i) {
      if (waitpid(pid_, nullptr, WNOHANG) != 0) {
        pid_ = 0;
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    pid_ = 0;
  }
  const std::string& log() const { return log_; }

 private:
  pid_t pid_ = 0;
  std::string log_;
};

struct Run {
  double rate = 0;
  std::string note;
};

void truncate_log(const std::string& url) {
  pqxx::connection c(url);
  pqxx::work tx(c);
  tx.exec0("TRUNCATE cairn.messages, cairn.streams, cairn.consumer_groups CASCADE");
  tx.commit();
}

// One timed run with `processes` workers over `events` fresh events. Everything is in place before
// the clock starts: the events are written while an older transaction of ours stays open, so the
// feed (which reads only below the oldest running transaction) hides them; this process holds
// every slice's lease and hands each worker its share (releasing it just before starting the
// worker, then waiting until the worker owns it). The clock starts when that transaction ends and
// stops when every slice's cursor is at the head. Returns 0 events/s when a slice went to the
// wrong worker (an earlier worker's lease retry can win the race); the caller tries again.
Run timed_run(const Options& options, int processes, long events, int attempt) {
  std::string group = "bench.scale." + std::to_string(getpid()) + "." + std::to_string(processes) + "." +
                      std::to_string(attempt);
  truncate_log(options.database_url);
  auto store = open_store(options.database_url);
  pqxx::connection horizon_connection(options.database_url);
  auto horizon = std::make_unique<pqxx::work>(horizon_connection);
  horizon->exec1("SELECT pg_current_xact_id()");
  append_spread(*store, events, "counter-scale-");
  analyze(options.database_url);

  store->ensure_group(group, slices, StartFrom::beginning());
  std::vector<std::unique_ptr<SliceLease>> gate;
  for (uint32_t s = 0; s < slices; ++s) {
    gate.push_back(store->try_lease_slice(group, s, "cairn-bench gate"));
    if (!gate.back()) throw std::runtime_error("cannot lease slice " + std::to_string(s) + " of " + group);
  }
  std::vector<std::unique_ptr<Worker>> workers;
  for (int w = 0; w < processes; ++w) {
    for (uint32_t s = static_cast<uint32_t>(w); s < slices; s += static_cast<uint32_t>(processes)) gate[s].reset();
    auto log = (std::filesystem::temp_directory_path() / (group + "." + std::to_string(w) + ".log")).string();
    workers.push_back(std::make_unique<Worker>(options, group, log));
    auto deadline = SteadyClock::now() + std::chrono::seconds(30);
    for (bool owned = false; !owned;) {
      if (SteadyClock::now() > deadline || !workers.back()->running())
        throw std::runtime_error("worker " + std::to_string(w) + " did not take its slices (see " + log + ")");
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      owned = true;
      for (const auto& status : store->slice_status(group))
        if (status.slice % static_cast<uint32_t>(processes) == static_cast<uint32_t>(w) &&
            status.owner != workers.back()->owner())
          owned = false;
    }
  }
  // Every slice with its intended worker? (An earlier worker may have won a released slice.)
  for (const auto& status : store->slice_status(group))
    if (status.owner != workers[status.slice % static_cast<uint32_t>(processes)]->owner()) return {};

  auto start = SteadyClock::now();
  horizon->commit();
  {
    pqxx::nontransaction tx(horizon_connection);
    tx.exec0("NOTIFY cairn_appended");  // wakes the workers' idle runners now, not at their next poll
  }
  auto head = store->feed_head();
  auto deadline = start + std::chrono::minutes(5);
  for (bool done = false; !done;) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    done = true;
    for (uint32_t s = 0; s < slices && done; ++s) done = !(store->load_cursor(group, s) < head);
    if (!done && SteadyClock::now() > deadline)
      throw std::runtime_error("group " + group + " did not reach the head within 5 minutes");
    for (const auto& w : workers)
      if (!done && !w->running()) throw std::runtime_error("a worker died (see " + w->log() + ")");
  }
  double seconds = std::chrono::duration<double>(SteadyClock::now() - start).count();
  for (auto& w : workers) w->stop();
  for (const auto& w : workers) std::filesystem::remove(w->log());
  char note[120];
  std::snprintf(note, sizeof note, "%ld events in %.2f s, %u slices, 10 us of work per event", events, seconds, slices);
  return {static_cast<double>(events) / seconds, note};
}

Run measure(const Options& options, int processes, long events) {
  for (int attempt = 0; attempt < 5; ++attempt) {
    auto run = timed_run(options, processes, events, attempt);
    if (run.rate > 0) return run;
  }
  throw std::runtime_error("could not hand the slices to " + std::to_string(processes) + " workers in 5 attempts");
}

}  // namespace

void scale_out_scenario(const Options& options, Report& report) {
  if (!std::filesystem::exists(options.worker_path) || !std::filesystem::exists(options.module_path))
    throw std::runtime_error("scale-out needs " + options.worker_path + " and " + options.module_path +
                             " (build cairn_worker and cairn_bench_module, or pass --worker and --module)");
  long events = options.quick ? 20000 : 200000;
  double one = 0, read = 0;
  for (int processes : {1, 2, 4}) {
    auto run = measure(options, processes, events);
    if (processes == 1) {
      // Baseline: one sequential read of the same rows (still stored after the run).
      auto copy = copy_read(options.database_url);
      read = copy.per_second;
      report.add({"scale-out", "baseline: sequential read (COPY) of " + std::to_string(copy.rows) + " rows", read,
                  "rows/s", "", 0, ""});
      one = run.rate;
      report.add({"scale-out", "1 cairn-worker process", run.rate, "events/s", "sequential read", run.rate / read,
                  run.note});
    } else {
      report.add({"scale-out", std::to_string(processes) + " cairn-worker processes", run.rate, "events/s",
                  "1 worker", run.rate / one, run.note});
    }
  }
}

}  // namespace cairn::bench
