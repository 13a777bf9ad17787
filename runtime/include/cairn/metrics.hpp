// Metrics in the Prometheus text format: counters, gauges and histograms with fixed buckets, in
// families with labels. A Runtime owns one registry (Runtime::metrics()) and serves it at /metrics
// (Runtime::serve_http); a service registers its own metrics there too:
//
//   auto& orders = runtime.metrics().counter("shop_orders_total", "Orders placed", {"region"});
//   auto& eu = orders.labels({"eu"});   // look a series up once (a lock), keep the reference...
//   eu.inc();                           // ...and count with one atomic add: no lock, no allocation
//
// Series live as long as the registry; references to them never dangle while it lives.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace cairn {

enum class MetricType { counter, gauge, histogram };

// Only goes up (Prometheus resets it to 0 when the process restarts).
class Counter {
 public:
  void inc(double by = 1) noexcept { value_.fetch_add(by, std::memory_order_relaxed); }
  double value() const noexcept { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

class Gauge {
 public:
  void set(double value) noexcept { value_.store(value, std::memory_order_relaxed); }
  void inc(double by = 1) noexcept { value_.fetch_add(by, std::memory_order_relaxed); }
  void dec(double by = 1) noexcept { value_.fetch_sub(by, std::memory_order_relaxed); }
  double value() const noexcept { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

// Observations counted into fixed buckets (upper bounds, ascending; +Inf is implied).
class Histogram {
 public:
  explicit Histogram(const std::vector<double>& bounds);
  void observe(double value) noexcept;
  const std::vector<double>& bounds() const { return bounds_; }
  // How many observations were at most each bound (the last entry: all of them, +Inf), and their sum.
  std::vector<uint64_t> cumulative_counts() const;
  double sum() const noexcept { return sum_.load(std::memory_order_relaxed); }

 private:
  const std::vector<double>& bounds_;  // the family's
  std::unique_ptr<std::atomic<uint64_t>[]> counts_;  // per bucket, +Inf last (not cumulative)
  std::atomic<double> sum_{0};
};

// Bucket bounds for latencies in seconds, from 0.5 ms to 10 s.
std::vector<double> latency_buckets();
// Bounds 1, 2, 4, ... up to `max`: sizes of batches.
std::vector<double> exponential_buckets(double max);

// A metric name with label names; one series per combination of label values.
template <class Metric>
class Family {
 public:
  Family(std::string name, std::string help, std::vector<std::string> label_names, std::vector<double> bounds = {});
  Family(const Family&) = delete;
  Family& operator=(const Family&) = delete;

  // The series with these label values (as many as the family has label names), made on first use.
  // Takes a lock: look a series up once and keep the reference, rather than once per increment.
  Metric& labels(const std::vector<std::string>& values);
  Metric& labels(std::initializer_list<std::string_view> values = {});

  const std::string& name() const { return name_; }
  const std::string& help() const { return help_; }
  const std::vector<std::string>& label_names() const { return label_names_; }
  const std::vector<double>& bounds() const { return bounds_; }
  // Calls `fn(label values, series)` for every series, in label order.
  void for_each(const std::function<void(const std::vector<std::string>&, const Metric&)>& fn) const;

 private:
  std::string name_, help_;
  std::vector<std::string> label_names_;
  std::vector<double> bounds_;  // histograms only
  mutable std::mutex mutex_;
  std::map<std::vector<std::string>, std::unique_ptr<Metric>> series_;
};

extern template class Family<Counter>;
extern template class Family<Gauge>;
extern template class Family<Histogram>;

// What a collector reports at scrape time: families of samples computed then (e.g. read from the
// store), which the registry does not keep.
class MetricsScrape {
 public:
  using Labels = std::vector<std::pair<std::string, std::string>>;
  // Starts a family (counter or gauge); the samples that follow belong to it.
  void family(std::string_view name, std::string_view help, MetricType type);
  void sample(const Labels& labels, double value);

 private:
  friend class Metrics;
  struct Family {
    std::string name, help;
    MetricType type;
    std::vector<std::pair<Labels, double>> samples;
  };
  std::vector<Family> families_;
};

class Metrics {
 public:
  using Collector = std::function<void(MetricsScrape&)>;

  Metrics();
  ~Metrics();
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  // A family by name, made on first use. Asking again with the same type and label names returns the
  // same family; another type or other label names throw BadInput, as do names Prometheus does
  // not accept. Counter names end in _total.
  Family<Counter>& counter(const std::string& name, const std::string& help, std::vector<std::string> labels = {});
  Family<Gauge>& gauge(const std::string& name, const std::string& help, std::vector<std::string> labels = {});
  Family<Histogram>& histogram(const std::string& name, const std::string& help, std::vector<double> bounds,
                               std::vector<std::string> labels = {});

  // Runs at every render, after the registered families. A collector that throws is left out of that
  // scrape (what it reported too) and cairn_metrics_collector_success{collector=NAME} is 0.
  void add_collector(const std::string& name, Collector collector);

  // Every family in the text exposition format 0.0.4 (what /metrics serves).
  std::string render();

  static constexpr const char* content_type = "text/plain; version=0.0.4; charset=utf-8";

 private:
  struct Registered;
  template <class Metric>
  Family<Metric>& find_or_add(const std::string& name, const std::string& help, std::vector<std::string> labels,
                              std::vector<double> bounds, MetricType type);

  std::mutex mutex_;
  std::vector<std::unique_ptr<Registered>> families_;
  std::vector<std::pair<std::string, Collector>> collectors_;
  std::mutex render_mutex_;  // one scrape at a time runs the collectors
};

}  // namespace cairn
