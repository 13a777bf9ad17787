// Operating a runtime, on the backend under test: the metrics of the write path and of consumer
// groups move as commands and events go by, /metrics passes promtool, /readyz follows the schema
// and the leases, and a failing event is logged as a record with its context in fields.
#include <doctest/doctest.h>

#include <atomic>
#include <mutex>

#include <cairn/consumer.hpp>
#include <cairn/runtime.hpp>
#include <cairn/version.hpp>
#include "tests/support/counter_actor.hpp"
#include "tests/support/eventually.hpp"
#include "tests/support/http_client.hpp"
#include "tests/support/runtimes.hpp"
#include "tests/support/test_database.hpp"

using namespace cairn;
using namespace std::chrono_literals;
using testing::eventually;
using testing::http_get;
using testing::sample_value;
using testing::sum_samples;

namespace {

// A side-effect consumer of the counter's increments over 2 slices; an increment of 666 throws.
constexpr const char* tally_group = "ops.tally";
constexpr const char* tally = "group=\"ops.tally\"";

std::unique_ptr<Runtime> tally_runtime(Config config = {}) {
  config.database_url = testing::fresh_backend_url();
  auto runtime = std::make_unique<Runtime>(config);
  counter::install(runtime->app(), 4);
  auto consumer = side_effect(tally_group);
  consumer->on<counter::Incremented>([](const counter::Incremented& e, const Message& m) {
    if (e.by == 666) throw std::runtime_error("poison increment on " + m.stream_id);
  });
  consumer->slices(2);
  runtime->add(consumer);
  return runtime;
}

struct Records {
  std::mutex mutex;
  std::vector<LogRecord> all;
  LogSink sink() {
    return [this](const LogRecord& record) {
      std::lock_guard lock(mutex);
      all.push_back(record);
    };
  }
  std::vector<LogRecord> copy() {
    std::lock_guard lock(mutex);
    return all;
  }
};

WorkerOptions tally_workers(LogSink log = [](const LogRecord&) {}) {
  auto options = testing::quiet_workers({tally_group});
  options.max_attempts = 2;
  options.backoff_base = 1ms;
  options.log = std::move(log);
  return options;
}

double metric(Runtime& runtime, const std::string& name, const std::string& filter = "") {
  return sum_samples(runtime.metrics().render(), name, filter);
}

bool has_problem(Runtime& runtime, const std::string& text) {
  for (const auto& problem : runtime.readiness().problems)
    if (problem.find(text) != std::string::npos) return true;
  return false;
}

}  // namespace

TEST_CASE("write-path metrics: commands by result and their latency, appends, live actors, snapshots, passivations") {
  Config config;
  // Long enough that neither actor passivates before the metrics are read on a loaded machine (at
  // 1 s, one did under ctest -j2), short enough for the passivation check below.
  config.idle_timeout = 3s;
  auto runtime = tally_runtime(config);
  for (int i = 0; i < 3; ++i) REQUIRE(runtime->handle("counter-m1", counter::Increment{1}).ok());
  CHECK(runtime->handle("counter-m1", counter::Increment{0}).status == HandleResult::Status::rejected);
  CHECK(runtime->handle("counter-m2", counter::Fail{}).status == HandleResult::Status::failed);
  auto text = runtime->metrics().render();
  CHECK(sample_value(text, R"(cairn_commands_total{actor="counter",result="ok"})") == 3);
  CHECK(sample_value(text, R"(cairn_commands_total{actor="counter",result="rejected"})") == 1);
  CHECK(sample_value(text, R"(cairn_commands_total{actor="counter",result="failed"})") == 1);
  CHECK(sample_value(text, R"(cairn_commands_total{actor="counter",result="overloaded"})") == 0);
  CHECK(sample_value(text, R"(cairn_command_duration_seconds_count{actor="counter"})") == 5);
  CHECK(sample_value(text, R"(cairn_command_duration_seconds_bucket{actor="counter",le="+Inf"})") == 5);
  // Each accepted command is one append ([command, event]), in a group commit of its own here.
  CHECK(sample_value(text, "cairn_append_batch_size_count") == 3);
  CHECK(sample_value(text, R"(cairn_append_batch_size_bucket{le="1"})") == 3);
  CHECK(sample_value(text, "cairn_append_duration_seconds_count") == 3);
  // Snapshots every 4 messages: the seq went 0 -> 6, crossing 4 once.
  CHECK(sample_value(text, R"(cairn_snapshots_written_total{actor="counter"})") == 1);
  CHECK(sample_value(text, "cairn_stream_actors") == 2);
  CHECK(sample_value(text, R"(cairn_build_info{version=")" CAIRN_VERSION "\"}") == 1);
  if (testing::backend_is_postgres()) {
    CHECK(sample_value(text, "cairn_db_pool_max_connections") == 4);
    CHECK(sum_samples(text, "cairn_db_pool_connections") >= 1);
  }
  // Idle actors passivate.
  CHECK(eventually([&] { return metric(*runtime, "cairn_stream_actors") == 0; }, 10s));
  CHECK(metric(*runtime, "cairn_stream_actor_passivations_total") >= 2);
}

TEST_CASE("consumer metrics: events handled and leases per slice; lag grows while the group is stopped, 0 once resumed") {
  auto runtime = tally_runtime();
  runtime->start_consumers(tally_workers());
  auto write = [&](int n) {
    for (int i = 0; i < n; ++i) {
      auto stream = "counter-l" + std::to_string(i % 3);
      auto result = runtime->handle(stream, counter::Increment{1});
      REQUIRE(result.ok());
    }
  };
  write(3);
  CHECK(eventually([&] { return metric(*runtime, "cairn_consumer_events_handled_total", tally) == 3; }));
  CHECK(eventually([&] { return metric(*runtime, "cairn_consumer_lag_events", tally) == 0; }));
  auto text = runtime->metrics().render();
  CHECK(sample_value(text, R"(cairn_consumer_lease_held{group="ops.tally",slice="0"})") == 1);
  CHECK(sample_value(text, R"(cairn_consumer_lease_held{group="ops.tally",slice="1"})") == 1);
  CHECK(sample_value(text, R"(cairn_consumer_slice_owned{group="ops.tally",slice="1"})") == 1);
  CHECK(sample_value(text, R"(cairn_consumer_group_active{group="ops.tally"})") == 1);
  CHECK(sum_samples(text, "cairn_consumer_failures_total", tally) == 0);
  CHECK(sample_value(text, "cairn_feed_horizon_age_seconds") >= 0);

  runtime->store().set_group_active(tally_group, false);
  CHECK(eventually([&] { return metric(*runtime, "cairn_consumer_lease_held", tally) == 0; }));
  write(4);
  CHECK(eventually([&] { return metric(*runtime, "cairn_consumer_lag_events", tally) >= 8; }));  // 4 commands, 4 events
  text = runtime->metrics().render();
  CHECK(sum_samples(text, "cairn_consumer_lag_seconds", tally) > 0);
  CHECK(sample_value(text, R"(cairn_consumer_group_active{group="ops.tally"})") == 0);
  CHECK(sum_samples(text, "cairn_consumer_slice_owned", tally) == 0);

  runtime->store().set_group_active(tally_group, true);
  CHECK(eventually([&] { return metric(*runtime, "cairn_consumer_lag_events", tally) == 0; }));
  CHECK(metric(*runtime, "cairn_consumer_lag_seconds", tally) == 0);
  CHECK(eventually([&] { return metric(*runtime, "cairn_consumer_events_handled_total", tally) == 7; }));
  CHECK(eventually([&] { return metric(*runtime, "cairn_consumer_lease_held", tally) == 2; }));
}

TEST_CASE("a failing event: its attempts are counted, its stream stopped, and each record carries its context") {
  Records records;  // outlives the runtime, whose runners log until it is gone
  auto runtime = tally_runtime();
  runtime->start_consumers(tally_workers(records.sink()));
  auto result = runtime->handle("counter-p", counter::Increment{666}, Json::object(), Trace{"req-666"});
  REQUIRE(result.ok());
  const auto& event = result.events.at(0);
  CHECK(eventually([&] { return metric(*runtime, "cairn_consumer_stopped_streams", tally) == 1; }));
  CHECK(metric(*runtime, "cairn_consumer_failures_total", tally) == 2);
  CHECK(metric(*runtime, "cairn_consumer_events_handled_total", tally) == 0);

  std::optional<LogRecord> stopped, retried;
  for (const auto& record : records.copy()) {
    if (record.level == LogLevel::error && record.message.find("stopped stream counter-p") != std::string::npos)
      stopped = record;
    if (record.level == LogLevel::warn && record.message.find("attempt 1 of 2") != std::string::npos) retried = record;
  }
  REQUIRE(stopped);
  REQUIRE(retried);
  for (const auto& record : {*stopped, *retried}) {
    CHECK(record.group == tally_group);
    CHECK(record.stream_id == "counter-p");
    CHECK(record.seq == event.seq);
    CHECK(record.message_id == event.id);
    CHECK(record.correlation_id == "req-666");
    auto json = Json::parse(format_json(record));
    CHECK(json["group"] == tally_group);
    CHECK(json["stream"] == "counter-p");
    CHECK(json["seq"] == event.seq);
    CHECK(json["correlation_id"] == "req-666");
  }
  CHECK(stopped->message.find("poison increment on counter-p") != std::string::npos);
}

TEST_CASE("serve_http: /metrics in the text format passes promtool after commands and consumer work") {
  auto runtime = tally_runtime();
  runtime->metrics().counter("shop_orders_total", "A service's own metric").labels().inc(5);
  runtime->start_consumers(tally_workers());
  for (int i = 0; i < 6; ++i) REQUIRE(runtime->handle("counter-s" + std::to_string(i % 2), counter::Increment{i + 1}).ok());
  CHECK(runtime->handle("counter-s0", counter::Increment{-1}).status == HandleResult::Status::rejected);
  REQUIRE(eventually([&] { return metric(*runtime, "cairn_consumer_events_handled_total", tally) == 6; }));
  auto address = runtime->serve_http("127.0.0.1:0");
  CHECK_THROWS_AS(runtime->serve_http("127.0.0.1:0"), BadInput);

  auto scrape = http_get(address, "/metrics");
  REQUIRE(scrape.status == 200);
  CHECK(scrape.content_type == "text/plain; version=0.0.4; charset=utf-8");
  CHECK(testing::promtool_problems(scrape.body) == "");
  for (const char* name : {"cairn_commands_total", "cairn_command_conflicts_total", "cairn_command_duration_seconds_bucket",
                           "cairn_append_batch_size_bucket", "cairn_append_duration_seconds_sum", "cairn_stream_actors",
                           "cairn_stream_actor_passivations_total", "cairn_snapshots_written_total",
                           "cairn_consumer_events_handled_total", "cairn_consumer_failures_total",
                           "cairn_consumer_lease_held", "cairn_consumer_lag_events", "cairn_consumer_lag_seconds",
                           "cairn_consumer_stopped_streams", "cairn_consumer_slice_owned", "cairn_consumer_group_active",
                           "cairn_feed_horizon_age_seconds", "cairn_feed_horizon_held", "cairn_scheduled_messages_pending",
                           "cairn_build_info", "shop_orders_total"})
    CHECK_MESSAGE(scrape.body.find(std::string("\n") + name) != std::string::npos, name);
  CHECK(sample_value(scrape.body, R"(cairn_commands_total{actor="counter",result="ok"})") == 6);
  CHECK(sample_value(scrape.body, "shop_orders_total") == 5);
  CHECK(sample_value(scrape.body, R"(cairn_metrics_collector_success{collector="store"})") == 1);
  CHECK(sum_samples(scrape.body, "cairn_consumer_events_handled_total", tally) == 6);

  auto health = http_get(address, "/healthz");
  CHECK(health.status == 200);
  CHECK(health.body == "ok\n");
  CHECK(eventually([&] { return http_get(address, "/readyz").status == 200; }));
  CHECK(http_get(address, "/readyz").body == "ready\n");
  runtime->shutdown();
  CHECK(http_get(address, "/healthz", 2s).status == 0);
}

TEST_CASE("serve_http refuses a malformed address and a port that is taken") {
  auto first = tally_runtime();
  auto second = testing::backend_runtime(testing::backend_url());
  CHECK_THROWS_AS(first->serve_http("localhost:http"), BadInput);
  auto address = first->serve_http("127.0.0.1:0");
  CHECK_THROWS_AS(second->serve_http(address), StoreError);
  CHECK(!second->serve_http("127.0.0.1:0").empty());  // a failed start leaves it free to try again
}

TEST_CASE("/readyz: 503 while another holder keeps a slice this process wants, 200 once it is free") {
  auto runtime = tally_runtime();
  runtime->store().ensure_group(tally_group, 2, StartFrom::beginning());
  // Another process: on PostgreSQL another session (the runtime's own would take its lock again).
  std::unique_ptr<Store> other;
  auto* holder = &runtime->store();
  if (testing::backend_is_postgres()) holder = (other = open_store(testing::backend_url())).get();
  auto intruder = holder->try_lease_slice(tally_group, 0, "intruder");
  REQUIRE(intruder);
  auto address = runtime->serve_http("127.0.0.1:0");
  CHECK(http_get(address, "/readyz").status == 200);  // no consumers: it wants no lease
  runtime->start_consumers(tally_workers());
  CHECK(eventually([&] { return has_problem(*runtime, "consumer group ops.tally: holds 1 of the 2 slices it wants"); }));
  auto refused = http_get(address, "/readyz");
  CHECK(refused.status == 503);
  CHECK(refused.body == "not ready: consumer group ops.tally: holds 1 of the 2 slices it wants\n");
  intruder.reset();
  CHECK(eventually([&] { return http_get(address, "/readyz").status == 200; }));
  CHECK(runtime->readiness().ready());
}

TEST_CASE("/readyz: 503 while the database schema is behind this build, 200 once it is current") {
  auto runtime = tally_runtime();
  auto address = runtime->serve_http("127.0.0.1:0");
  CHECK(http_get(address, "/readyz").status == 200);
  if (!testing::backend_is_postgres()) return;  // the memory store has no schema
  auto url = testing::backend_url();
  auto latest = std::to_string(testing::query_number(url, "SELECT max(version) FROM cairn.migrations"));
  auto previous = std::to_string(std::stol(latest) - 1);
  {
    // The latest migration's row set aside: as if this build were newer than the database.
    testing::execute_sql(url, "UPDATE cairn.migrations SET version = -version WHERE version = " + latest);
    struct Restore {
      std::string url, latest;
      ~Restore() { testing::execute_sql(url, "UPDATE cairn.migrations SET version = " + latest + " WHERE version = -" + latest); }
    } restore{url, latest};
    auto behind = http_get(address, "/readyz");
    CHECK(behind.status == 503);
    CHECK(behind.body == "not ready: the database schema is at version " + previous + ", this build needs " + latest +
                             ": run `cairn migrate`\n");
    CHECK(http_get(address, "/healthz").status == 200);  // alive all the same
  }
  CHECK(http_get(address, "/readyz").status == 200);
}
