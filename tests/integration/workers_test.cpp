// Real cairn-worker processes sharing consumer groups on a real PostgreSQL: concurrent writes, a
// worker killed with SIGKILL, a server restart, graceful SIGTERM.
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
#include <sstream>
#include <thread>

#include <pqxx/pqxx>

#include "runtime/runtime.hpp"
#include "tests/support/eventually.hpp"
#include "tests/support/child_process.hpp"
#include "tests/support/counter_consumers.hpp"
#include "tests/support/test_database.hpp"

using namespace cairn;
using cairn::testing::eventually;
using testing::ChildProcess;

namespace {

using Totals = std::map<std::string, std::tuple<long, long, long>>;

Totals table(const std::string& url) {
  pqxx::connection c(url);
  pqxx::read_transaction tx(c);
  Totals out;
  if (tx.exec1("SELECT to_regclass('counter_totals') IS NULL")[0].as<bool>()) return out;
  for (const auto& r : tx.exec("SELECT stream_id, total, events, last_seq FROM counter_totals"))
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

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

struct Workers {
  std::string url;
  std::string log_dir;
  std::vector<std::unique_ptr<ChildProcess>> processes;

  explicit Workers(std::string database_url) : url(std::move(database_url)) {
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
  std::string logs() const {
    std::string all;
    for (size_t i = 0; i < processes.size(); ++i)
      all += "--- worker " + std::to_string(i) + "\n" + read_file(log_dir + "/worker-" + std::to_string(i) + ".log");
    return all;
  }
};

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
          auto command = Runtime::make_command(stream, counter::Increment{(round + s) % 9 + 1}, Json::object());
          for (int attempt = 0; attempt < 50; ++attempt) {
            if (runtime.handle(stream, command).status != HandleResult::Status::failed) break;
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
          }
          if (++done == streams * per_stream / 3 && !called.exchange(true)) midway();
        }
    });
  for (auto& t : writers) t.join();
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
