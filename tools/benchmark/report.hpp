// Benchmark results: each figure next to the raw-PostgreSQL baseline measured in the same run.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

namespace cairn::bench {

using SteadyClock = std::chrono::steady_clock;

struct Latencies {
  std::vector<double> micros;
  void add(SteadyClock::duration d) { micros.push_back(std::chrono::duration<double, std::micro>(d).count()); }
  void merge(const Latencies& other) { micros.insert(micros.end(), other.micros.begin(), other.micros.end()); }
  double percentile(double p) {
    if (micros.empty()) return 0;
    std::sort(micros.begin(), micros.end());
    return micros[std::min(micros.size() - 1, static_cast<size_t>(p * static_cast<double>(micros.size())))];
  }
};

// Three significant figures for small values (latencies in ms), whole numbers for the rest.
inline std::string format_value(double value) {
  char text[32];
  std::snprintf(text, sizeof text, value != 0 && value < 100 ? "%.3g" : "%.0f", value);
  return text;
}

inline std::string format_ratio(double ratio) {
  char text[32];
  std::snprintf(text, sizeof text, ratio < 0.1 ? "%.3fx" : "%.2fx", ratio);
  return text;
}

inline std::string milliseconds_note(Latencies& l) {
  char text[96];
  std::snprintf(text, sizeof text, "p50 %.2f ms, p99 %.2f ms", l.percentile(0.5) / 1000, l.percentile(0.99) / 1000);
  return text;
}

// The parts of a note that are not empty, joined with "; ".
inline std::string joined(const std::string& first, const std::string& second) {
  return second.empty() ? first : first + "; " + second;
}

// A measure taken in rounds, each right after a baseline measure of its own: the same build moves
// by a third between runs minutes apart on a small shared machine (both sides at once), so a figure
// is the median of rounds, each against the baseline next to it.
struct Rounds {
  explicit Rounds(std::string baseline) : against(std::move(baseline)) {}
  std::string against;  // the baseline, for the note: "a COPY read"
  std::vector<double> rates, baselines, ratios;

  void add(double rate, double baseline) {
    rates.push_back(rate);
    baselines.push_back(baseline);
    ratios.push_back(rate / baseline);
  }
  static double median(std::vector<double> values) {
    std::sort(values.begin(), values.end());
    return values[values.size() / 2];
  }
  double rate() const { return median(rates); }
  double ratio() const { return median(ratios); }
  // The round whose ratio is the median.
  size_t median_round() const {
    std::vector<size_t> order(ratios.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return ratios[a] < ratios[b]; });
    return order[order.size() / 2];
  }
  std::string note() const {
    if (ratios.size() < 2) return "";
    auto [low, high] = std::minmax_element(ratios.begin(), ratios.end());
    return "median of " + std::to_string(ratios.size()) + " rounds, each against " + against + " just before it: " +
           format_ratio(*low) + "-" + format_ratio(*high);
  }
};

struct Row {
  std::string scenario;
  std::string variant;
  double value = 0;
  std::string unit;
  std::string baseline;  // what `ratio` compares against
  double ratio = 0;      // value / baseline value (0: no baseline)
  std::string note;      // latencies and the like
};

class Report {
 public:
  void add(Row row) {
    std::printf("%-14s %-44s %12s %-10s", row.scenario.c_str(), row.variant.c_str(), format_value(row.value).c_str(),
                row.unit.c_str());
    if (row.ratio > 0) std::printf("  %6s %s", format_ratio(row.ratio).c_str(), row.baseline.c_str());
    if (!row.note.empty()) std::printf("  (%s)", row.note.c_str());
    std::printf("\n");
    std::fflush(stdout);
    rows_.push_back(std::move(row));
  }
  const std::vector<Row>& rows() const { return rows_; }
  std::string markdown() const;

 private:
  std::vector<Row> rows_;
};

struct Options {
  std::string database_url;
  bool quick = false;
  std::string worker_path;  // cairn-worker, for the scale-out scenario
  std::string module_path;  // the benchmark's application module, for the scale-out scenario
  double seconds() const { return quick ? 1.0 : 4.0; }
};

void commands_scenario(const Options& options, Report& report);
void rehydration_scenario(const Options& options, Report& report);
void memory_scenario(const Options& options, Report& report);
void live_lag_scenario(const Options& options, Report& report);
void catch_up_scenario(const Options& options, Report& report);
void scale_out_scenario(const Options& options, Report& report);

}  // namespace cairn::bench
