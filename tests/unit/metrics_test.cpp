// The metrics registry (the text format, labels, histograms, collectors, concurrent increments) and
// the log records' text and JSON forms.
#include <doctest/doctest.h>

#include <thread>

#include <cairn/errors.hpp>
#include <cairn/log.hpp>
#include <cairn/metrics.hpp>
#include "tests/support/http_client.hpp"

using namespace cairn;

TEST_CASE("the registry renders counters, gauges and histograms in the text format, families grouped") {
  Metrics metrics;
  auto& orders = metrics.counter("shop_orders_total", "Orders placed", {"region"});
  orders.labels({"eu"}).inc();
  orders.labels({"eu"}).inc(2);
  orders.labels({"us"}).inc();
  metrics.gauge("shop_queue_depth", "Jobs waiting").labels().set(7.5);
  auto& latency = metrics.histogram("shop_checkout_seconds", "Checkout latency", {0.1, 1}, {"kind"});
  latency.labels({"card"}).observe(0.0625);
  latency.labels({"card"}).observe(0.5);
  latency.labels({"card"}).observe(3);
  CHECK(metrics.render() ==
        "# HELP shop_orders_total Orders placed\n"
        "# TYPE shop_orders_total counter\n"
        "shop_orders_total{region=\"eu\"} 3\n"
        "shop_orders_total{region=\"us\"} 1\n"
        "# HELP shop_queue_depth Jobs waiting\n"
        "# TYPE shop_queue_depth gauge\n"
        "shop_queue_depth 7.5\n"
        "# HELP shop_checkout_seconds Checkout latency\n"
        "# TYPE shop_checkout_seconds histogram\n"
        "shop_checkout_seconds_bucket{kind=\"card\",le=\"0.1\"} 1\n"
        "shop_checkout_seconds_bucket{kind=\"card\",le=\"1\"} 2\n"
        "shop_checkout_seconds_bucket{kind=\"card\",le=\"+Inf\"} 3\n"
        "shop_checkout_seconds_sum{kind=\"card\"} 3.5625\n"
        "shop_checkout_seconds_count{kind=\"card\"} 3\n");
}

TEST_CASE("label values and help texts are escaped, and promtool accepts the result") {
  Metrics metrics;
  metrics.counter("odd_total", "Help with a \\ backslash\nand a newline", {"stream"})
      .labels({"a \"quoted\" \\ stream\nid"})
      .inc();
  metrics.gauge("unlabelled", "A gauge never set").labels();
  auto text = metrics.render();
  CHECK(text.find("odd_total{stream=\"a \\\"quoted\\\" \\\\ stream\\nid\"} 1\n") != std::string::npos);
  CHECK(text.find("# HELP odd_total Help with a \\\\ backslash\\nand a newline\n") != std::string::npos);
  CHECK(text.find("unlabelled 0\n") != std::string::npos);  // a family without labels shows from the start
  CHECK(testing::promtool_problems(text) == "");
  // promtool is a real check: it refuses what is broken.
  CHECK(testing::promtool_problems("# TYPE broken_total counter\nbroken_total{a=\"x} 1\n") != "");
}

TEST_CASE("names Prometheus refuses, and a name taken by another kind of metric, are bad input") {
  Metrics metrics;
  CHECK_THROWS_AS(metrics.counter("orders", "no _total"), BadInput);
  CHECK_THROWS_AS(metrics.gauge("queue_total", "a gauge ending in _total"), BadInput);
  CHECK_THROWS_AS(metrics.gauge("1st", "starts with a digit"), BadInput);
  CHECK_THROWS_AS(metrics.gauge("depth", "bad label", {"a-b"}), BadInput);
  CHECK_THROWS_AS(metrics.gauge("depth", "reserved label", {"__name"}), BadInput);
  CHECK_THROWS_AS(metrics.histogram("wait_seconds", "le is the bucket's", {1}, {"le"}), BadInput);
  CHECK_THROWS_AS(metrics.histogram("wait_seconds", "bounds must ascend", {2, 1}), BadInput);
  auto& first = metrics.counter("jobs_total", "Jobs", {"kind"});
  CHECK(&metrics.counter("jobs_total", "Jobs", {"kind"}) == &first);  // asking again: the same family
  CHECK_THROWS_AS(metrics.counter("jobs_total", "Jobs", {"other"}), BadInput);
  CHECK_THROWS_AS(metrics.gauge("jobs_total", "Jobs"), BadInput);
  CHECK_THROWS_AS(first.labels({"a", "b"}), BadInput);  // two values for one label
  CHECK(&first.labels({"x"}) == &first.labels({"x"}));  // a series is made once
}

TEST_CASE("increments from many threads are all counted") {
  Metrics metrics;
  auto& counter = metrics.counter("hits_total", "Hits").labels();
  auto& histogram = metrics.histogram("sizes", "Sizes", exponential_buckets(8)).labels();
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 100000; ++i) {
        counter.inc();
        histogram.observe(i % 10);
      }
    });
  for (auto& t : threads) t.join();
  CHECK(counter.value() == 400000);
  auto counts = histogram.cumulative_counts();  // bounds 1, 2, 4, 8 and +Inf
  REQUIRE(counts.size() == 5);
  CHECK(counts[0] == 80000);  // 0 and 1
  CHECK(counts[3] == 360000);  // 0..8
  CHECK(counts[4] == 400000);
  CHECK(histogram.sum() == 4 * 10000 * 45);
}

TEST_CASE("collectors add families at scrape time; one that throws is left out and says so") {
  Metrics metrics;
  int scrapes = 0;
  metrics.add_collector("lag", [&](MetricsScrape& scrape) {
    ++scrapes;
    scrape.family("app_lag_events", "Events behind", MetricType::gauge);
    scrape.sample({{"group", "g1"}}, 4);
    scrape.sample({{"group", "g2"}}, 0);
  });
  metrics.add_collector("broken", [](MetricsScrape& scrape) {
    scrape.family("app_half_done", "Never shown", MetricType::gauge);
    scrape.sample({}, 1);
    throw std::runtime_error("the database is away\nfor now");
  });
  auto text = metrics.render();
  CHECK(scrapes == 1);
  CHECK(text.find("app_lag_events{group=\"g1\"} 4\napp_lag_events{group=\"g2\"} 0\n") != std::string::npos);
  CHECK(text.find("app_half_done") == std::string::npos);
  CHECK(text.find("# collector broken failed: the database is away for now\n") != std::string::npos);
  CHECK(text.find("cairn_metrics_collector_success{collector=\"lag\"} 1\n") != std::string::npos);
  CHECK(text.find("cairn_metrics_collector_success{collector=\"broken\"} 0\n") != std::string::npos);
  CHECK(testing::promtool_problems(text) == "");
  metrics.render();
  CHECK(scrapes == 2);
}

TEST_CASE("a collector may not report a family the registry reports") {
  Metrics metrics;
  metrics.gauge("app_depth", "Depth").labels().set(1);
  metrics.add_collector("clash", [](MetricsScrape& scrape) {
    scrape.family("app_depth", "Depth again", MetricType::gauge);
    scrape.sample({}, 2);
  });
  auto text = metrics.render();
  CHECK(text.find("app_depth 2") == std::string::npos);
  CHECK(text.find("cairn_metrics_collector_success{collector=\"clash\"} 0\n") != std::string::npos);
}

TEST_CASE("a log record as text and as one line of JSON with its context as fields") {
  LogRecord record{.level = LogLevel::error,
                   .message = "group g stopped stream s-1 at seq 3 after 5 attempts: boom",
                   .group = "g",
                   .stream_id = "s-1",
                   .seq = 3,
                   .message_id = "m-9",
                   .correlation_id = "req-7"};
  CHECK(format_text(record) == "cairn: error: group g stopped stream s-1 at seq 3 after 5 attempts: boom");
  auto line = format_json(record);
  CHECK(line.find('\n') == std::string::npos);
  auto json = Json::parse(line);
  CHECK(json["level"] == "error");
  CHECK(json["message"] == record.message);
  CHECK(json["group"] == "g");
  CHECK(json["stream"] == "s-1");
  CHECK(json["seq"] == 3);
  CHECK(json["message_id"] == "m-9");
  CHECK(json["correlation_id"] == "req-7");
  CHECK(parse_time(json["time"].get<std::string>()) == record.time);

  LogRecord plain{.level = LogLevel::info, .message = "took slice 0 of group g\xff"};  // not UTF-8: replaced
  CHECK(format_text(plain) == std::string("cairn: took slice 0 of group g\xff"));
  auto bare = Json::parse(format_json(plain));
  CHECK(bare.size() == 3);  // time, level, message: no empty context
  CHECK(bare["level"] == "info");
  CHECK(parse_log_level("warning") == LogLevel::warn);
  CHECK_THROWS_AS(parse_log_level("loud"), BadInput);
}
