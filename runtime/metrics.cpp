#include <cairn/metrics.hpp>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <set>
#include <variant>

#include <cairn/errors.hpp>

namespace cairn {
namespace {

bool name_char(char c, bool first, bool colon) {
  bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (colon && c == ':');
  return letter || (!first && c >= '0' && c <= '9');
}

bool valid_name(std::string_view name, bool colon) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i)
    if (!name_char(name[i], i == 0, colon)) return false;
  return true;
}

void check_metric_name(std::string_view name, MetricType type) {
  if (!valid_name(name, true))
    throw BadInput("metric name '" + std::string(name) + "' is not [a-zA-Z_:][a-zA-Z0-9_:]*");
  bool total = name.size() > 6 && name.substr(name.size() - 6) == "_total";
  if (type == MetricType::counter && !total) throw BadInput("counter '" + std::string(name) + "' must end in _total");
  if (type != MetricType::counter && total)
    throw BadInput("only counters end in _total: '" + std::string(name) + "'");
}

void check_label_name(std::string_view name, MetricType type) {
  if (!valid_name(name, false) || name.substr(0, 2) == "__")
    throw BadInput("label name '" + std::string(name) + "' is not [a-zA-Z_][a-zA-Z0-9_]* (nor starts with __)");
  if (type == MetricType::histogram && name == "le") throw BadInput("a histogram's labels cannot include 'le'");
}

const char* type_name(MetricType type) {
  switch (type) {
    case MetricType::counter: return "counter";
    case MetricType::gauge: return "gauge";
    case MetricType::histogram: return "histogram";
  }
  return "untyped";
}

void append_number(std::string& out, double value) {
  if (std::isnan(value)) {
    out += "NaN";
  } else if (std::isinf(value)) {
    out += value > 0 ? "+Inf" : "-Inf";
  } else {
    char buffer[32];
    auto end = std::to_chars(buffer, buffer + sizeof buffer, value).ptr;
    out.append(buffer, end);
  }
}

// HELP text escapes backslashes and newlines; label values also double quotes.
void append_escaped(std::string& out, std::string_view text, bool quotes) {
  for (char c : text) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '\n')
      out += "\\n";
    else if (quotes && c == '"')
      out += "\\\"";
    else
      out += c;
  }
}

void append_header(std::string& out, std::string_view name, std::string_view help, MetricType type) {
  out += "# HELP ";
  out += name;
  out += ' ';
  append_escaped(out, help, false);
  out += "\n# TYPE ";
  out += name;
  out += ' ';
  out += type_name(type);
  out += '\n';
}

// `name{a="x",b="y"} value`; `extra` is one more label (a histogram bucket's le).
void append_sample(std::string& out, std::string_view name, const std::vector<std::string>& names,
                   const std::vector<std::string>& values, double value,
                   const std::pair<std::string_view, std::string_view>* extra = nullptr) {
  out += name;
  if (!names.empty() || extra) {
    out += '{';
    for (size_t i = 0; i < names.size(); ++i) {
      if (i) out += ',';
      out += names[i];
      out += "=\"";
      append_escaped(out, values[i], true);
      out += '"';
    }
    if (extra) {
      if (!names.empty()) out += ',';
      out += extra->first;
      out += "=\"";
      out += extra->second;
      out += '"';
    }
    out += '}';
  }
  out += ' ';
  append_number(out, value);
  out += '\n';
}

std::string number_text(double value) {
  std::string out;
  append_number(out, value);
  return out;
}

template <class Metric>
void render_series(std::string& out, const Family<Metric>& family) {
  family.for_each([&](const std::vector<std::string>& values, const Metric& metric) {
    append_sample(out, family.name(), family.label_names(), values, metric.value());
  });
}

void render_series(std::string& out, const Family<Histogram>& family) {
  auto bucket = family.name() + "_bucket";
  std::vector<std::string> les;
  for (double bound : family.bounds()) les.push_back(number_text(bound));
  les.push_back("+Inf");
  family.for_each([&](const std::vector<std::string>& values, const Histogram& histogram) {
    auto counts = histogram.cumulative_counts();
    for (size_t i = 0; i < counts.size(); ++i) {
      std::pair<std::string_view, std::string_view> le{"le", les[i]};
      append_sample(out, bucket, family.label_names(), values, static_cast<double>(counts[i]), &le);
    }
    append_sample(out, family.name() + "_sum", family.label_names(), values, histogram.sum());
    // The +Inf bucket, so that the count always equals it even while observations arrive.
    append_sample(out, family.name() + "_count", family.label_names(), values, static_cast<double>(counts.back()));
  });
}

}  // namespace

Histogram::Histogram(const std::vector<double>& bounds)
    : bounds_(bounds), counts_(new std::atomic<uint64_t>[bounds.size() + 1]) {
  for (size_t i = 0; i <= bounds_.size(); ++i) counts_[i].store(0, std::memory_order_relaxed);
}

void Histogram::observe(double value) noexcept {
  auto bucket = static_cast<size_t>(std::lower_bound(bounds_.begin(), bounds_.end(), value) - bounds_.begin());
  counts_[bucket].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(value, std::memory_order_relaxed);
}

std::vector<uint64_t> Histogram::cumulative_counts() const {
  std::vector<uint64_t> out(bounds_.size() + 1);
  uint64_t total = 0;
  for (size_t i = 0; i < out.size(); ++i) out[i] = total += counts_[i].load(std::memory_order_relaxed);
  return out;
}

std::vector<double> latency_buckets() {
  return {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
}

std::vector<double> exponential_buckets(double max) {
  std::vector<double> out;
  for (double bound = 1; bound <= max; bound *= 2) out.push_back(bound);
  return out;
}

template <class Metric>
Family<Metric>::Family(std::string name, std::string help, std::vector<std::string> label_names,
                       std::vector<double> bounds)
    : name_(std::move(name)), help_(std::move(help)), label_names_(std::move(label_names)), bounds_(std::move(bounds)) {
  if (label_names_.empty()) labels();  // a family without labels shows its one series from the start
}

template <class Metric>
Metric& Family<Metric>::labels(const std::vector<std::string>& values) {
  if (values.size() != label_names_.size())
    throw BadInput("metric " + name_ + " takes " + std::to_string(label_names_.size()) + " label values, not " +
                   std::to_string(values.size()));
  std::lock_guard lock(mutex_);
  auto& series = series_[values];
  if (!series) {
    if constexpr (std::is_same_v<Metric, Histogram>)
      series = std::make_unique<Histogram>(bounds_);
    else
      series = std::make_unique<Metric>();
  }
  return *series;
}

template <class Metric>
Metric& Family<Metric>::labels(std::initializer_list<std::string_view> values) {
  return labels(std::vector<std::string>(values.begin(), values.end()));
}

template <class Metric>
void Family<Metric>::for_each(const std::function<void(const std::vector<std::string>&, const Metric&)>& fn) const {
  std::lock_guard lock(mutex_);
  for (const auto& [values, series] : series_) fn(values, *series);
}

template class Family<Counter>;
template class Family<Gauge>;
template class Family<Histogram>;

void MetricsScrape::family(std::string_view name, std::string_view help, MetricType type) {
  if (type == MetricType::histogram) throw BadInput("a collector reports counters and gauges only");
  check_metric_name(name, type);
  families_.push_back({std::string(name), std::string(help), type, {}});
}

void MetricsScrape::sample(const Labels& labels, double value) {
  if (families_.empty()) throw BadInput("a collector's sample comes after its family()");
  for (const auto& [name, ignored] : labels) check_label_name(name, families_.back().type);
  families_.back().samples.emplace_back(labels, value);
}

struct Metrics::Registered {
  MetricType type;
  std::variant<std::unique_ptr<Family<Counter>>, std::unique_ptr<Family<Gauge>>, std::unique_ptr<Family<Histogram>>>
      family;
  const std::string& name() const {
    return std::visit([](const auto& f) -> const std::string& { return f->name(); }, family);
  }
};

Metrics::Metrics() = default;
Metrics::~Metrics() = default;

template <class Metric>
Family<Metric>& Metrics::find_or_add(const std::string& name, const std::string& help, std::vector<std::string> labels,
                                     std::vector<double> bounds, MetricType type) {
  check_metric_name(name, type);
  for (const auto& label : labels) check_label_name(label, type);
  if (!std::is_sorted(bounds.begin(), bounds.end()) || std::adjacent_find(bounds.begin(), bounds.end()) != bounds.end())
    throw BadInput("histogram " + name + ": bucket bounds must ascend");
  std::lock_guard lock(mutex_);
  for (auto& registered : families_) {
    if (registered->name() != name) continue;
    auto* family = std::get_if<std::unique_ptr<Family<Metric>>>(&registered->family);
    if (!family || (*family)->label_names() != labels || (*family)->bounds() != bounds)
      throw BadInput("metric " + name + " is already registered as another " + type_name(registered->type) +
                     " (other type, labels or buckets)");
    return **family;
  }
  auto family = std::make_unique<Family<Metric>>(name, help, std::move(labels), std::move(bounds));
  auto& out = *family;
  families_.push_back(std::make_unique<Registered>(Registered{type, std::move(family)}));
  return out;
}

Family<Counter>& Metrics::counter(const std::string& name, const std::string& help, std::vector<std::string> labels) {
  return find_or_add<Counter>(name, help, std::move(labels), {}, MetricType::counter);
}

Family<Gauge>& Metrics::gauge(const std::string& name, const std::string& help, std::vector<std::string> labels) {
  return find_or_add<Gauge>(name, help, std::move(labels), {}, MetricType::gauge);
}

Family<Histogram>& Metrics::histogram(const std::string& name, const std::string& help, std::vector<double> bounds,
                                      std::vector<std::string> labels) {
  return find_or_add<Histogram>(name, help, std::move(labels), std::move(bounds), MetricType::histogram);
}

void Metrics::add_collector(const std::string& name, Collector collector) {
  std::lock_guard lock(mutex_);
  collectors_.emplace_back(name, std::move(collector));
}

std::string Metrics::render() {
  std::lock_guard one_at_a_time(render_mutex_);
  std::vector<std::pair<std::string, Collector>> collectors;
  {
    std::lock_guard lock(mutex_);
    collectors = collectors_;
  }
  // The collectors first: what they open on first use (a store's pool) registers its families in
  // time for this scrape.
  struct Outcome {
    std::string name;
    MetricsScrape scrape;
    std::string failure;
  };
  std::vector<Outcome> outcomes;
  for (const auto& [name, collect] : collectors) {
    auto& outcome = outcomes.emplace_back(Outcome{name, {}, {}});
    try {
      collect(outcome.scrape);
    } catch (const std::exception& e) {
      outcome.failure = e.what();
    } catch (...) {
      outcome.failure = "a throw that is not a std::exception";
    }
  }
  std::vector<const Registered*> families;
  {
    std::lock_guard lock(mutex_);
    for (const auto& f : families_) families.push_back(f.get());
  }
  std::string out;
  std::set<std::string, std::less<>> names;
  for (const auto* registered : families) {
    names.insert(registered->name());
    std::visit(
        [&](const auto& family) {
          append_header(out, family->name(), family->help(), registered->type);
          render_series(out, *family);
        },
        registered->family);
  }
  for (auto& outcome : outcomes) {
    std::set<std::string_view> own;
    for (const auto& family : outcome.scrape.families_)
      if (outcome.failure.empty() && (names.count(family.name) || !own.insert(family.name).second))
        outcome.failure = "it reports " + family.name + ", which is reported already";
    if (!outcome.failure.empty()) {
      // A comment, which scrapers ignore: for whoever reads /metrics by hand.
      out += "# collector " + outcome.name + " failed: ";
      for (char c : outcome.failure) out += c == '\n' ? ' ' : c;
      out += '\n';
      continue;
    }
    for (const auto& family : outcome.scrape.families_) {
      names.insert(family.name);
      append_header(out, family.name, family.help, family.type);
      for (const auto& [labels, value] : family.samples) {
        std::vector<std::string> label_names, label_values;
        for (const auto& [n, v] : labels) {
          label_names.push_back(n);
          label_values.push_back(v);
        }
        append_sample(out, family.name, label_names, label_values, value);
      }
    }
  }
  if (!outcomes.empty()) {
    append_header(out, "cairn_metrics_collector_success",
                  "1 when the collector (metrics computed at scrape time) succeeded in this scrape, 0 when it failed",
                  MetricType::gauge);
    for (const auto& outcome : outcomes)
      append_sample(out, "cairn_metrics_collector_success", {"collector"}, {outcome.name},
                    outcome.failure.empty() ? 1 : 0);
  }
  return out;
}

}  // namespace cairn
