// Real cairn-worker processes sharing consumer groups on a real PostgreSQL: concurrent writes, a
// worker killed with SIGKILL, a server restart, graceful SIGTERM, database sessions terminated
// under the workers (lost leases), and the connections a worker opens while it waits for a lease.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <thread>

#include <pqxx/pqxx>

#include <cairn/runtime.hpp>
#include "tests/support/eventually.hpp"
#include "tests/support/process.hpp"
#include "tests/support/child_process.hpp"
#include "tests/support/counter_consumers.hpp"
#include "tests/support/test_database.hpp"

using namespace cairn;
using cairn::testing::eventually;
using testing::ChildProcess;
using testing::read_file;

namespace {

using Totals = std::map<std::string, std::tuple<long, long, long>>;

Totals table(const std::string& url) {
  pqxx::connection c(url);
  pqxx::read_transaction tx(c);
  Totals out;
  if (tx.exec1("SELECT to_regclass('public.counter_totals') IS NULL")[0].as<bool>()) return out;
  for (const auto& r : tx.exec("SELECT stream_id, total, events, last_seq FROM public.counter_totals"))
    out[r[0].c_str()] = {r[1].as<long>(), r[2].as<long>(), r[3].as<long>()};
  return out;
}

Totals fold(const std::string& url) {
  pqxx::connection c(url);
  pqxx::read_transaction tx(c);
  Totals out;
  for (const auto& r : tx.exec("SELECT stream_id, sum((payload->>'by')::bigint), count(*), max(seq) FROM cairn.messages "
                               "WHERE type = 'counter.incremented' GROUP BY stream_id"))
    out[r[0].c_str()] = {r[1].as<long>(), r[2].as<long>(), r[3].as<long>()};
  return out;
}

int advisory_locks(const std::string& url) {
  pqxx::connection c(url);
  pqxx::read_transaction tx(c);
  return tx.exec1("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'")[0].as<int>();
}

struct Workers {
  std::string url;
  std::string log_dir;
  std::vector<std::unique_ptr<ChildProcess>> processes;

  explicit Workers(std::string database_url) : url(std::move(database_url)) {
    testing::migrate_module(url, CAIRN_COUNTER_MODULE);
    char dir[] = "/tmp/cairn-workers-XXXXXX";
    log_dir = mkdtemp(dir);
  }
  ~Workers() {
    processes.clear();  // kills any still running
    std::filesystem::remove_all(log_dir);
  }
  ChildProcess& start() {
    auto log = log_dir + "/worker-" + std::to_string(processes.size()) + ".log";
    processes.push_back(std::make_unique<ChildProcess>(
        CAIRN_WORKER_PATH, std::vector<std::string>{"--app", CAIRN_COUNTER_MODULE, "--db", url, "--poll-ms", "20"}, log));
    return *processes.back();
  }
  std::string log(size_t i) const { return read_file(log_dir + "/worker-" + std::to_string(i) + ".log"); }
  // Every worker's log, or the last `tail` characters of each.
  std::string logs(size_t tail = std::string::npos) const {
    std::string all;
    for (size_t i = 0; i < processes.size(); ++i) {
      auto text = log(i);
      if (text.size() > tail) text = "[...]" + text.substr(text.size() - tail);
      all += "--- worker " + std::to_string(i) + " (pid " + std::to_string(processes[i]->pid()) + ")\n" + text;
    }
    return all;
  }
};

// The same database URL with an application_name, so the test can tell its own sessions from the
// workers' in pg_stat_activity (the workers set none; every session of this test is "cairn-test-*").
std::string named_session(const std::string& url, const std::string& application_name) {
  return url + (url.find('?') == std::string::npos ? "?" : "&") + "application_name=" + application_name;
}

size_t count_of(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + what.size())) ++n;
  return n;
}

// The streams whose row in public.counter_totals differs from the fold of the log, at most `limit` of them.
std::string differences(const Totals& expected, const Totals& actual, size_t limit = 15) {
  auto show = [](const std::tuple<long, long, long>& t) {
    return "(total " + std::to_string(std::get<0>(t)) + ", events " + std::to_string(std::get<1>(t)) + ", last_seq " +
           std::to_string(std::get<2>(t)) + ")";
  };
  std::set<std::string> streams;
  for (const auto& [s, _] : expected) streams.insert(s);
  for (const auto& [s, _] : actual) streams.insert(s);
  size_t differing = 0, more_events = 0;
  std::string out;
  for (const auto& s : streams) {
    auto e = expected.find(s);
    auto a = actual.find(s);
    if (e != expected.end() && a != actual.end() && e->second == a->second) continue;
    ++differing;
    if (e != expected.end() && a != actual.end() && std::get<1>(a->second) > std::get<1>(e->second)) ++more_events;
    if (differing <= limit)
      out += "  " + s + ": log " + (e == expected.end() ? std::string("-") : show(e->second)) + ", public.counter_totals " +
             (a == actual.end() ? std::string("-") : show(a->second)) + "\n";
  }
  return std::to_string(differing) + " of " + std::to_string(expected.size()) + " streams differ from the fold (" +
         std::to_string(more_events) + " with more events applied than the log holds):\n" + out;
}

std::unique_ptr<Runtime> writer_runtime(const std::string& url) {
  Config config;
  config.database_url = url;
  auto runtime = std::make_unique<Runtime>(config);
  counter::install(runtime->app());
  return runtime;
}

// Writes `per_stream` increments to each of `streams` streams from 4 threads; calls `midway` once.
void write_load(Runtime& runtime, int streams, int per_stream, const std::function<void()>& midway) {
  std::atomic<int> done{0};
  std::atomic<bool> called{false};
  std::vector<std::thread> writers;
  for (int w = 0; w < 4; ++w)
    writers.emplace_back([&, w] {
      for (int round = 0; round < per_stream; ++round)
        for (int s = w; s < streams; s += 4) {
          // A client retries the same command (same id) when the database was away; whatever the
          // log ends up holding, the projector must match it.
          auto stream = "counter-" + std::to_string(s);
          auto command = make_command(stream, counter::Increment{(round + s) % 9 + 1});
          for (int attempt = 0; attempt < 50; ++attempt) {
            if (runtime.handle(stream, command).status != HandleResult::Status::failed) break;
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
          }
          if (++done == streams * per_stream / 3 && !called.exchange(true)) midway();
        }
    });
  for (auto& t : writers) t.join();
}

// Opens `streams` new streams over the run: 8 threads, each writing `per_stream` increments to one
// new stream after another and pausing `pause` between streams, so first events of new streams keep
// arriving while the load lasts.
void write_new_streams(Runtime& runtime, const std::string& prefix, int streams, int per_stream,
                       std::chrono::milliseconds pause) {
  const int threads = 8;
  std::vector<std::thread> writers;
  for (int w = 0; w < threads; ++w)
    writers.emplace_back([&, w] {
      for (int s = w; s < streams; s += threads) {
        auto stream = prefix + std::to_string(s);
        for (int n = 0; n < per_stream; ++n) {
          auto command = make_command(stream, counter::Increment{(n + s) % 9 + 1});
          for (int attempt = 0; attempt < 50; ++attempt) {
            if (runtime.handle(stream, command).status != HandleResult::Status::failed) break;
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
          }
        }
        std::this_thread::sleep_for(pause);
      }
    });
  for (auto& t : writers) t.join();
}

// Every (stream, seq) of a counter.incremented event in the log.
std::set<std::pair<std::string, long>> incremented_events(const std::string& url) {
  pqxx::connection c(url);
  pqxx::read_transaction tx(c);
  std::set<std::pair<std::string, long>> out;
  for (const auto& r : tx.exec("SELECT stream_id, seq FROM cairn.messages WHERE type = 'counter.incremented'"))
    out.emplace(r[0].c_str(), r[1].as<long>());
  return out;
}

// A fresh file for counter.effects to write to, named in COUNTER_EFFECTS_FILE: the workers started
// next inherit it.
std::string new_effects_file() {
  char path[] = "/tmp/cairn-effects-XXXXXX";
  int fd = mkstemp(path);
  if (fd < 0) throw std::runtime_error("mkstemp failed");
  close(fd);
  setenv("COUNTER_EFFECTS_FILE", path, 1);
  return path;
}

// The (stream, seq) lines counter.effects wrote, with how often each was written.
std::map<std::pair<std::string, long>, int> effects_written(const std::string& path) {
  std::map<std::pair<std::string, long>, int> out;
  std::ifstream in(path);
  std::string stream;
  long seq = 0;
  while (in >> stream >> seq) ++out[{stream, seq}];
  return out;
}

}  // namespace

TEST_CASE("three workers share the groups; one is killed with SIGKILL; nothing lost, nothing applied twice") {
  testing::TestDatabase db;
  Workers workers(db.url());
  for (int i = 0; i < 3; ++i) workers.start();
  auto runtime = writer_runtime(db.url());
  write_load(*runtime, 200, 50, [&] { workers.processes[0]->signal(SIGKILL); });
  CHECK(workers.processes[0]->wait(std::chrono::seconds(10)) == 128 + SIGKILL);

  auto expected = fold(db.url());
  CHECK(expected.size() == 200);
  bool caught_up = eventually([&] { return table(db.url()) == expected; }, std::chrono::seconds(120));
  if (!caught_up) MESSAGE(workers.logs());
  CHECK(caught_up);
  CHECK(runtime->store().failed_streams("counter.totals").empty());  // a double or reordered event would stop one

  for (size_t i = 1; i < 3; ++i) workers.processes[i]->signal(SIGTERM);
  for (size_t i = 1; i < 3; ++i) CHECK(workers.processes[i]->wait(std::chrono::seconds(30)) == 0);
  CHECK(advisory_locks(db.url()) == 0);
  auto logs = workers.logs();
  CHECK(logs.find("starting group counter.totals") != std::string::npos);
  CHECK(logs.find("took slice") != std::string::npos);
  CHECK(logs.find("released slice") != std::string::npos);
}

TEST_CASE("a PostgreSQL restart mid-run: workers reconnect and finish") {
  const char* pg_dir = std::getenv("CAIRN_TEST_PG_DIR");
  REQUIRE_MESSAGE(pg_dir != nullptr, "CAIRN_TEST_PG_DIR is not set: run tools/test (it owns the server it restarts)");
  testing::TestDatabase db;
  Workers workers(db.url());
  workers.start();
  workers.start();
  auto runtime = writer_runtime(db.url());
  write_load(*runtime, 40, 25, [&] {
    int rc = std::system((std::string(CAIRN_SOURCE_DIR "/tools/pg restart ") + pg_dir).c_str());
    CHECK(rc == 0);
  });
  auto expected = fold(db.url());
  bool caught_up = eventually([&] { return table(db.url()) == expected; }, std::chrono::seconds(120));
  if (!caught_up) MESSAGE(workers.logs());
  CHECK(caught_up);
  for (auto& p : workers.processes) p->signal(SIGTERM);
  for (auto& p : workers.processes) {
    int rc = p->wait(std::chrono::seconds(30));
    CHECK(rc == 0);
  }
  CHECK(eventually([&] { return advisory_locks(db.url()) == 0; }, std::chrono::seconds(10)));
}

TEST_CASE("LISTEN/NOTIFY wakes a worker long before its next poll") {
  testing::TestDatabase db;
  std::string log = "/tmp/cairn-notify-worker-" + std::to_string(getpid()) + ".log";
  testing::migrate_module(db.url(), CAIRN_COUNTER_MODULE);
  ChildProcess worker(CAIRN_WORKER_PATH,
                      {"--app", CAIRN_COUNTER_MODULE, "--db", db.url(), "--poll-ms", "30000", "--groups", "counter.totals"},
                      log);
  REQUIRE(eventually([&] { return read_file(log).find("took slice 3") != std::string::npos; }, std::chrono::seconds(20)));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // the runners are idle now, for 30 s
  auto runtime = writer_runtime(db.url());
  REQUIRE(runtime->handle("counter-wake", counter::Increment{3}).ok());
  auto started = std::chrono::steady_clock::now();
  CHECK(eventually([&] { return table(db.url()).count("counter-wake") == 1; }, std::chrono::seconds(10)));
  CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds(10));
  worker.signal(SIGTERM);
  CHECK(worker.wait(std::chrono::seconds(30)) == 0);
  std::remove(log.c_str());
}

// C5 (review-concurrency.md): a lease lives as long as its session, and today nothing fences a
// process that lost it. Terminating the workers' sessions under load makes two processes run one
// (group, slice) at once; the first events of a new stream have no progress row to lock, so both
// apply them and public.counter_totals counts them twice. With fenced leases the table must end equal to
// the fold of the log, and the workers must ride out every lost session.
TEST_CASE("workers whose database sessions are terminated again and again stay up, and the read model ends equal to "
          "the fold of the log") {
  using namespace std::chrono_literals;
  testing::TestDatabase db;
  auto effects_path = new_effects_file();
  Workers workers(db.url());
  for (int i = 0; i < 3; ++i) workers.start();
  unsetenv("COUNTER_EFFECTS_FILE");
  // The counter module runs 4 groups (counter.totals, counter.effects, counter.reactions, cairn.commands)
  // of 4 slices each: wait until the workers share all 16.
  REQUIRE_MESSAGE(eventually([&] { return count_of(workers.logs(), "took slice") >= 16; }, 30s), workers.logs());
  auto runtime = writer_runtime(named_session(db.url(), "cairn-test-writer"));

  // Every 300 ms, alternately: terminate the sessions holding an advisory lock (the leases), or
  // every session of the workers (leases, pools, listeners). This test's own sessions are named
  // cairn-test-*; the workers name theirs nothing, or anything else.
  const std::string workers_sessions =
      "FROM pg_stat_activity a WHERE a.datname = current_database() AND a.pid <> pg_backend_pid() AND "
      "a.backend_type = 'client backend' AND a.application_name NOT LIKE 'cairn-test%'";
  const std::string kill_leases =
      "SELECT pg_terminate_backend(a.pid) " + workers_sessions +
      " AND EXISTS (SELECT 1 FROM pg_locks l WHERE l.pid = a.pid AND l.locktype = 'advisory' AND l.granted)";
  const std::string kill_all = "SELECT pg_terminate_backend(a.pid) " + workers_sessions;
  std::atomic<bool> loading{true};
  std::atomic<int> rounds{0}, leases_killed{0}, sessions_killed{0}, killer_errors{0};
  std::thread killer([&] {
    std::unique_ptr<pqxx::connection> c;
    for (int round = 0; loading; ++round) {
      try {
        if (!c) c = std::make_unique<pqxx::connection>(named_session(db.url(), "cairn-test-killer"));
        pqxx::nontransaction tx(*c);
        int killed = 0;
        for (const auto& row : tx.exec(round % 2 == 0 ? kill_leases : kill_all)) killed += row[0].as<bool>() ? 1 : 0;
        (round % 2 == 0 ? leases_killed : sessions_killed) += killed;
        ++rounds;
      } catch (const std::exception&) {
        c.reset();
        ++killer_errors;
      }
      std::this_thread::sleep_for(300ms);
    }
  });
  const int streams = 480;
  auto load_started = std::chrono::steady_clock::now();
  write_new_streams(*runtime, "counter-new-", streams, 3, 50ms);
  auto load_time = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - load_started);
  loading = false;
  killer.join();
  MESSAGE("load of " << streams << " new streams took " << load_time.count() << " ms; " << rounds.load()
                     << " rounds terminated " << leases_killed.load() << " lease sessions and "
                     << sessions_killed.load() << " sessions in all (" << killer_errors.load() << " rounds failed)");
  CHECK(leases_killed.load() > 0);

  // Every worker rode it out.
  for (size_t i = 0; i < workers.processes.size(); ++i) {
    int rc = workers.processes[i]->wait(0ms);
    CHECK_MESSAGE(rc == -1, "worker " << i << " exited with " << rc << "\n" << workers.logs(4000));
  }

  // The read model catches up to exactly the fold of the log. No writes are left, so a stream
  // with more events applied than the log holds can never match again: wait until every stream
  // matches or is overcounted, then compare.
  auto expected = fold(db.url());
  CHECK(expected.size() == static_cast<size_t>(streams));
  Totals actual;
  auto settled = [&] {
    for (const auto& [stream, row] : expected) {
      auto it = actual.find(stream);
      if (it == actual.end() || (it->second != row && std::get<1>(it->second) <= std::get<1>(row))) return false;
    }
    return true;
  };
  eventually(
      [&] {
        actual = table(db.url());
        return settled();
      },
      120s);
  bool equal = actual == expected;
  if (!equal) MESSAGE(differences(expected, actual) << workers.logs(4000));
  CHECK(equal);
  auto failed = runtime->store().failed_streams("counter.totals");  // a double or reordered event stops its stream
  for (const auto& f : failed) MESSAGE("counter.totals stopped " << f.stream_id << ": " << f.error);
  CHECK(failed.empty());

  // counter.effects is at least once: every event's effect ran, some perhaps more than once.
  auto events = incremented_events(db.url());
  std::map<std::pair<std::string, long>, int> effects;
  auto missing = [&] {
    size_t n = 0;
    for (const auto& e : events) n += effects.count(e) ? 0 : 1;
    return n;
  };
  bool all_effects = eventually(
      [&] {
        effects = effects_written(effects_path);
        return missing() == 0;
      },
      60s);
  size_t repeated = 0;
  for (const auto& [_, n] : effects) repeated += n > 1 ? 1 : 0;
  MESSAGE("counter.effects: " << events.size() << " events, " << effects.size() << " distinct effects, " << repeated
                              << " repeated, " << missing() << " missing");
  CHECK(all_effects);

  for (auto& p : workers.processes) p->signal(SIGTERM);
  for (auto& p : workers.processes) CHECK(p->wait(std::chrono::seconds(30)) == 0);
  CHECK(eventually([&] { return advisory_locks(db.url()) == 0; }, std::chrono::seconds(10)));
  std::remove(effects_path.c_str());
}

// P1 (review-concurrency.md): today a runner that does not hold its slice opens a new backend on
// every lease attempt (every 5 polls), so a second worker whose slices are all held elsewhere
// churns through sessions while it has nothing to do. One lease connection per process ends that.
TEST_CASE("a lease attempt does not open a new connection") {
  using namespace std::chrono_literals;
  testing::TestDatabase db;
  Workers workers(db.url());
  workers.start();
  // 4 groups (counter.totals, counter.effects, counter.reactions, cairn.commands) of 4 slices: all held by worker 0.
  REQUIRE_MESSAGE(eventually([&] { return count_of(workers.log(0), "took slice") == 16; }, 30s), workers.logs());
  workers.start();
  // Worker 0 gives worker 1 its fair share: half of each group's slices.
  REQUIRE_MESSAGE(eventually([&] { return count_of(workers.log(1), "took slice") == 8; }, 30s), workers.logs());
  pqxx::connection c(named_session(db.url(), "cairn-test-sampler"));
  // Worker 1 has opened whatever it keeps open, and every session so far is counted in pg_stat_database.
  std::this_thread::sleep_for(1500ms);
  auto sessions_started = [&] {
    pqxx::nontransaction tx(c);
    return tx.exec1("SELECT sessions FROM pg_stat_database WHERE datname = current_database()")[0].as<long>();
  };
  auto backends = [&] {
    pqxx::nontransaction tx(c);
    std::set<int> pids;
    for (const auto& r : tx.exec("SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> "
                                 "pg_backend_pid() AND backend_type = 'client backend'"))
      pids.insert(r[0].as<int>());
    return pids;
  };
  auto sessions_before = sessions_started();
  auto first = backends();
  auto seen = first;
  size_t samples = 1;
  for (auto end = std::chrono::steady_clock::now() + 3s; std::chrono::steady_clock::now() < end; ++samples) {
    auto now = backends();
    seen.insert(now.begin(), now.end());
    std::this_thread::sleep_for(10ms);
  }
  auto sessions_after = sessions_started();
  MESSAGE("over 3 s of idle (" << samples << " samples): " << first.size() << " backends at first, " << seen.size()
                               << " distinct backends seen, " << (sessions_after - sessions_before)
                               << " sessions started (pg_stat_database.sessions)");
  CHECK(seen.size() <= first.size() + 2);
  CHECK(sessions_after - sessions_before <= 2);
  // Balance rounds went on meanwhile (on the lease session), and nothing changed hands.
  CHECK(count_of(workers.log(1), "took slice") == 8);
  CHECK(count_of(workers.log(0), "released slice") == 8);

  for (auto& p : workers.processes) p->signal(SIGTERM);
  for (auto& p : workers.processes) CHECK(p->wait(std::chrono::seconds(30)) == 0);
}

// Issue 13: SIGHUP (a closed terminal) drains like SIGTERM: what was handled stays handled, and a
// worker started afterwards delivers only what came after (each side effect once).
TEST_CASE("SIGHUP drains a worker: exit 0, progress saved, slices released; SIGPIPE is ignored") {
  using namespace std::chrono_literals;
  testing::TestDatabase db;
  auto effects_path = new_effects_file();
  Workers workers(db.url());
  workers.start();
  auto runtime = writer_runtime(db.url());
  for (int i = 0; i < 20; ++i) REQUIRE(runtime->handle("counter-hup-" + std::to_string(i % 4), counter::Increment{1}).ok());
  auto effects = [&] {
    size_t n = 0;
    for (const auto& [event, times] : effects_written(effects_path)) n += static_cast<size_t>(times);
    return n;
  };
  REQUIRE_MESSAGE(eventually([&] { return effects() == 20 && table(db.url()) == fold(db.url()); }, 30s), workers.logs());
  workers.processes[0]->signal(SIGPIPE);  // ignored: a log reader gone does not kill a worker
  CHECK(workers.processes[0]->wait(300ms) == -1);
  workers.processes[0]->signal(SIGHUP);
  CHECK(workers.processes[0]->wait(30s) == 0);
  CHECK(workers.log(0).find("SIGHUP: draining") != std::string::npos);
  CHECK(workers.log(0).find("cairn: stopped") != std::string::npos);
  CHECK(advisory_locks(db.url()) == 0);

  workers.start();
  unsetenv("COUNTER_EFFECTS_FILE");
  REQUIRE(runtime->handle("counter-hup-0", counter::Increment{1}).ok());
  CHECK(eventually([&] { return effects() == 21 && table(db.url()) == fold(db.url()); }, 30s));
  std::this_thread::sleep_for(500ms);  // time enough for a redelivery to show
  auto written = effects_written(effects_path);
  CHECK(written.size() == 21);
  for (const auto& [event, times] : written) CHECK_MESSAGE(times == 1, event.first << " #" << event.second);
  workers.processes[1]->signal(SIGTERM);
  CHECK(workers.processes[1]->wait(30s) == 0);
  std::remove(effects_path.c_str());
}

// A drain waits for the handlers in flight; one stuck in user code would hold it forever. A second
// signal ends the worker at once with exit 3; what it had not saved is delivered again later.
TEST_CASE("a second signal while a drain waits on a slow handler stops the worker at once with exit 3") {
  using namespace std::chrono_literals;
  testing::TestDatabase db;
  Workers workers(db.url());
  auto& worker = workers.start();
  auto runtime = writer_runtime(db.url());
  // The worker delivers dispatched commands: first a quick one, to know it does, then one whose
  // decide sleeps for a minute.
  runtime->dispatch("counter-ready", counter::Increment{1});
  REQUIRE_MESSAGE(eventually([&] { return runtime->store().head_seq("counter-ready") == 2; }, 30s), workers.logs());
  runtime->dispatch("counter-stuck", counter::Slow{60000});
  std::this_thread::sleep_for(1500ms);  // delivered by now (20 ms polls, NOTIFY sooner): its decide sleeps
  worker.signal(SIGTERM);
  CHECK(worker.wait(1500ms) == -1);  // draining: waiting for the slow decide
  CHECK(workers.log(0).find("SIGTERM: draining") != std::string::npos);
  auto second = std::chrono::steady_clock::now();
  worker.signal(SIGINT);
  CHECK(worker.wait(10s) == 3);
  CHECK(std::chrono::steady_clock::now() - second < 5s);
  CHECK(workers.log(0).find("SIGINT while draining: stopping now") != std::string::npos);
  CHECK(runtime->store().head_seq("counter-stuck") == 1);  // the command, undecided
  CHECK(eventually([&] { return advisory_locks(db.url()) == 0; }, 10s));  // the session died with the process
}
