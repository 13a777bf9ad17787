// A real cairn-worker serving its endpoint: scraped while it works, and its readiness through an
// outage of PostgreSQL (the server halted, then back).
#include <doctest/doctest.h>

#include <signal.h>
#include <unistd.h>

#include <cstdlib>

#include <cairn/runtime.hpp>
#include "tests/support/child_process.hpp"
#include "tests/support/counter_actor.hpp"
#include "tests/support/eventually.hpp"
#include "tests/support/http_client.hpp"
#include "tests/support/process.hpp"
#include "tests/support/test_database.hpp"

using namespace cairn;
using namespace std::chrono_literals;
using testing::eventually;
using testing::http_get;
using testing::read_file;

namespace {

int pg(const std::string& command, const std::string& dir) {
  return std::system((std::string(CAIRN_SOURCE_DIR "/tools/pg ") + command + " " + dir).c_str());
}

}  // namespace

TEST_CASE("cairn-worker --http: /metrics while it works; /readyz 503 while PostgreSQL is down, 200 once it is back") {
  const char* pg_dir = std::getenv("CAIRN_TEST_PG_DIR");
  REQUIRE_MESSAGE(pg_dir != nullptr, "CAIRN_TEST_PG_DIR is not set: run tools/test (it owns the server it halts)");
  testing::TestDatabase db;
  testing::migrate_module(db.url(), CAIRN_COUNTER_MODULE);
  auto log = "/tmp/cairn-http-worker-" + std::to_string(getpid()) + ".log";
  testing::ChildProcess worker(CAIRN_WORKER_PATH,
                               {"--app", CAIRN_COUNTER_MODULE, "--db", db.url(), "--poll-ms", "20", "--http", "127.0.0.1:0"},
                               log);
  std::string address;
  REQUIRE_MESSAGE(eventually([&] { return !(address = testing::served_address(read_file(log))).empty(); }, 30s),
                  read_file(log));
  CHECK(http_get(address, "/healthz").status == 200);
  CHECK(eventually([&] { return http_get(address, "/readyz").status == 200; }, 30s));

  {
    Config config;
    config.database_url = db.url();
    Runtime writer(config);
    counter::install(writer.app());
    for (int i = 0; i < 20; ++i) REQUIRE(writer.handle("counter-h" + std::to_string(i % 4), counter::Increment{1}).ok());
  }
  auto handled = [&] {
    return testing::sum_samples(http_get(address, "/metrics").body, "cairn_consumer_events_handled_total",
                                "group=\"counter.totals\"");
  };
  CHECK(eventually([&] { return handled() == 20; }, 30s));
  auto scrape = http_get(address, "/metrics");
  CHECK(testing::promtool_problems(scrape.body) == "");
  CHECK(eventually([&] {
    return testing::sum_samples(http_get(address, "/metrics").body, "cairn_consumer_lag_events",
                                "group=\"counter.totals\"") == 0;
  }));
  CHECK(testing::sum_samples(scrape.body, "cairn_consumer_lease_held", "group=\"counter.totals\"") > 0);

  // The outage: the server halted (its data kept), then back on the same port.
  struct Resume {
    std::string dir;
    ~Resume() { pg("resume", dir); }
  } resume{pg_dir};
  REQUIRE(pg("halt", pg_dir) == 0);
  auto away = http_get(address, "/readyz", 30s);
  CHECK(away.status == 503);
  CHECK(away.body.find("not ready: the database cannot be used: ") != std::string::npos);
  CHECK(http_get(address, "/healthz").status == 200);
  auto partial = http_get(address, "/metrics", 60s);
  CHECK(partial.status == 200);
  CHECK(testing::sample_value(partial.body, R"(cairn_metrics_collector_success{collector="store"})") == 0);
  REQUIRE(pg("resume", pg_dir) == 0);
  bool ready = eventually([&] { return http_get(address, "/readyz").status == 200; }, 90s);
  if (!ready) MESSAGE(http_get(address, "/readyz").body << read_file(log));
  CHECK(ready);

  worker.signal(SIGTERM);
  CHECK(worker.wait(30s) == 0);
  std::remove(log.c_str());
}
