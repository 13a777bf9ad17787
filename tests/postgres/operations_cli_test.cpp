// The binaries' operations doors on a real PostgreSQL: `cairn console --http` (alive, ready only
// when the database is reachable and migrated, metrics read from the store) and `cairn-worker
// --log-format json` (one JSON object per line, a failing event's context in fields).
#include <doctest/doctest.h>

#include <signal.h>
#include <unistd.h>

#include <sstream>

#include <cairn/store.hpp>
#include "tests/support/child_process.hpp"
#include "tests/support/eventually.hpp"
#include "tests/support/http_client.hpp"
#include "tests/support/process.hpp"
#include "tests/support/test_database.hpp"

using namespace cairn;
using namespace std::chrono_literals;
using testing::ChildProcess;
using testing::eventually;
using testing::http_get;
using testing::read_file;

namespace {

std::string log_path(const std::string& name) { return "/tmp/cairn-" + name + "-" + std::to_string(getpid()) + ".log"; }

// `cairn console --db URL --http 127.0.0.1:0`, and the address it logged.
struct Console {
  std::string log;
  std::unique_ptr<ChildProcess> process;
  std::string address;

  explicit Console(const std::string& url, std::vector<std::string> extra = {}) : log(log_path("console")) {
    std::vector<std::string> args{"console", "--db", url, "--http", "127.0.0.1:0"};
    args.insert(args.end(), extra.begin(), extra.end());
    process = std::make_unique<ChildProcess>(CAIRN_CLI_PATH, args, log);
    REQUIRE_MESSAGE(eventually([&] { return !(address = testing::served_address(read_file(log))).empty(); }, 20s),
                    read_file(log));
  }
  ~Console() {
    process->signal(SIGTERM);
    CHECK(process->wait(10s) == 0);
    std::remove(log.c_str());
  }
};

}  // namespace

TEST_CASE("cairn console --http: /healthz, /readyz and the store's metrics for a database, no consumer run") {
  testing::TestDatabase db;
  auto store = open_store(db.url());
  store->ensure_group("ops.console", 2, StartFrom::beginning());
  store->append("counter-c1", ExpectedSeq::any(), {make_message("counter-c1", "counter.incremented", {{"by", 1}})});
  auto failed =
      store->append("counter-c2", ExpectedSeq::any(), {make_message("counter-c2", "counter.incremented", {{"by", 2}})});
  store->stop_stream("ops.console", {"counter-c2", 0, true, 1, failed.at(0).id, "a handler failed", 5}, std::nullopt);
  Console console(db.url(), {"--app", CAIRN_COUNTER_MODULE});
  CHECK(read_file(console.log).find("cairn: console serving the web console, /metrics, /healthz and /readyz on http://127.0.0.1:") == 0);

  auto health = http_get(console.address, "/healthz");
  CHECK(health.status == 200);
  CHECK(health.body == "ok\n");
  auto ready = http_get(console.address, "/readyz");
  CHECK(ready.status == 200);
  CHECK(ready.body == "ready\n");
  auto scrape = http_get(console.address, "/metrics");
  REQUIRE(scrape.status == 200);
  CHECK(testing::promtool_problems(scrape.body) == "");
  CHECK(testing::sum_samples(scrape.body, "cairn_consumer_lag_events", "group=\"ops.console\"") == 2);
  CHECK(testing::sum_samples(scrape.body, "cairn_consumer_lag_seconds", "group=\"ops.console\"") > 0);
  CHECK(testing::sum_samples(scrape.body, "cairn_consumer_stopped_streams", "group=\"ops.console\"") == 1);
  CHECK(testing::sum_samples(scrape.body, "cairn_consumer_slice_owned", "group=\"ops.console\"") == 0);
  CHECK(testing::sample_value(scrape.body, R"(cairn_consumer_group_active{group="ops.console"})") == 1);
  CHECK(testing::sample_value(scrape.body, "cairn_feed_horizon_held") >= 0);
  CHECK(testing::sample_value(scrape.body, "cairn_db_pool_max_connections") == 2);
  CHECK(scrape.body.find("cairn_commands_total") == std::string::npos);  // it runs no actor
}

TEST_CASE("cairn console on a database not migrated yet: alive, and ready once `cairn migrate` ran") {
  testing::TestDatabase db(false);
  Console console(db.url(), {"--log-format", "json"});
  auto line = read_file(console.log);
  CHECK(Json::parse(line.substr(0, line.find('\n')))["message"].get<std::string>().find("console serving") == 0);
  CHECK(http_get(console.address, "/healthz").status == 200);
  auto behind = http_get(console.address, "/readyz");
  CHECK(behind.status == 503);
  CHECK(behind.body.find("not ready: the database schema is at version 0, this build needs ") == 0);
  auto scrape = http_get(console.address, "/metrics");
  CHECK(scrape.status == 200);  // what it has, without the store's part
  CHECK(testing::sample_value(scrape.body, R"(cairn_metrics_collector_success{collector="store"})") == 0);

  REQUIRE(testing::run_process(CAIRN_CLI_PATH, {"migrate", "--db", db.url()}).exit_code == 0);
  CHECK(http_get(console.address, "/readyz").status == 200);
  scrape = http_get(console.address, "/metrics");
  CHECK(testing::sample_value(scrape.body, R"(cairn_metrics_collector_success{collector="store"})") == 1);
  CHECK(testing::promtool_problems(scrape.body) == "");
}

TEST_CASE("cairn console against a database nobody answers for: /healthz 200, /readyz 503 and why") {
  Console console("postgresql://postgres@127.0.0.1:1/nowhere");
  CHECK(http_get(console.address, "/healthz").status == 200);
  auto away = http_get(console.address, "/readyz");
  CHECK(away.status == 503);
  CHECK(away.body.find("not ready: the database cannot be used: ") == 0);
}

TEST_CASE("cairn console refuses a malformed address or no database, before it listens") {
  testing::TestDatabase db;
  auto bad = testing::run_process(CAIRN_CLI_PATH, {"console", "--db", db.url(), "--http", "127.0.0.1:http"});
  CHECK(bad.exit_code == 2);
  CHECK(bad.err.find("HTTP address '127.0.0.1:http': the port is not a number from 0 to 65535") != std::string::npos);
  auto worker = testing::run_process(CAIRN_WORKER_PATH, {"--app", CAIRN_COUNTER_MODULE, "--db", db.url(), "--http", "[::1"});
  CHECK(worker.exit_code == 2);
  auto format = testing::run_process(CAIRN_WORKER_PATH, {"--app", CAIRN_COUNTER_MODULE, "--log-format", "xml"});
  CHECK(format.exit_code == 2);
  auto no_db = testing::run_process("env", {"-u", "CAIRN_DATABASE_URL", CAIRN_CLI_PATH, "console", "--http", ":0"});
  CHECK(no_db.exit_code == 2);
  CHECK(no_db.err.find("no database") != std::string::npos);
}

TEST_CASE("cairn-worker --log-format json: one JSON object per line; a failing event's record carries its context") {
  testing::TestDatabase db;
  testing::migrate_module(db.url(), CAIRN_COUNTER_MODULE);
  auto log = log_path("json-worker");
  ChildProcess worker(CAIRN_WORKER_PATH,
                      {"--app", CAIRN_COUNTER_MODULE, "--db", db.url(), "--poll-ms", "20", "--max-attempts", "2",
                       "--log-format", "json"},
                      log);
  // An increment of 666 is poison for the counter.totals projector.
  auto handled = testing::run_process(CAIRN_CLI_PATH, {"handle", "--app", CAIRN_COUNTER_MODULE, "--db", db.url(),
                                                       "counter-j", "counter.increment", R"({"by":666})",
                                                       "--correlation-id", "req-j"});
  REQUIRE(handled.exit_code == 0);
  REQUIRE_MESSAGE(eventually([&] { return read_file(log).find("stopped stream counter-j") != std::string::npos; }, 30s),
                  read_file(log));
  worker.signal(SIGTERM);
  CHECK(worker.wait(30s) == 0);
  auto event_id = testing::run_process(CAIRN_CLI_PATH, {"read", "counter-j", "--json", "--db", db.url()}).out;

  std::istringstream lines(read_file(log));
  int count = 0;
  std::optional<Json> stopped, retried;
  for (std::string line; std::getline(lines, line); ++count) {
    Json record;
    REQUIRE_NOTHROW_MESSAGE(record = Json::parse(line), line);
    REQUIRE(record.is_object());
    CHECK(record["time"].is_string());
    CHECK(record["level"].is_string());
    CHECK(record["message"].is_string());
    auto message = record["message"].get<std::string>();
    if (message.find("stopped stream counter-j") != std::string::npos) stopped = record;
    if (message.find("counter-j seq 2 failed (attempt 1 of 2)") != std::string::npos) retried = record;
  }
  CHECK(count > 5);  // starting groups, slices taken, the failure, draining, stopped
  REQUIRE(stopped);
  REQUIRE(retried);
  for (const auto& record : {*stopped, *retried}) {
    CHECK(record["group"] == "counter.totals");
    CHECK(record["stream"] == "counter-j");
    CHECK(record["seq"] == 2);
    CHECK(record["correlation_id"] == "req-j");
    CHECK(event_id.find(record["message_id"].get<std::string>()) != std::string::npos);
  }
  CHECK((*stopped)["level"] == "error");
  CHECK((*retried)["level"] == "warn");
  std::remove(log.c_str());
}
