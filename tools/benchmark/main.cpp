// cairn-bench: Cairn's benchmarks, each next to a raw-PostgreSQL baseline measured in the same run.
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>

#include <CLI/CLI.hpp>
#include <pqxx/pqxx>

#include "backends/postgres/migrations.hpp"
#include "tools/benchmark/report.hpp"

namespace cairn::bench {

std::string Report::markdown() const {
  std::ostringstream out;
  out << "| scenario | variant | value | unit | ratio | baseline | notes |\n|---|---|---:|---|---:|---|---|\n";
  for (const auto& r : rows_) {
    std::string ratio = r.ratio > 0 ? format_ratio(r.ratio) : "";
    out << "| " << r.scenario << " | " << r.variant << " | " << format_value(r.value) << " | " << r.unit << " | "
        << ratio << " | " << r.baseline << " | " << r.note << " |\n";
  }
  return out.str();
}

namespace {

// The URL of database `name` on the server of `base` (its path replaced).
std::string database_url_for(const std::string& base, const std::string& name) {
  auto scheme = base.find("://");
  if (scheme == std::string::npos) throw std::runtime_error("the server URL must be a postgresql:// URL");
  auto slash = base.find('/', scheme + 3);
  auto query = base.find('?', scheme + 3);
  std::string tail = query == std::string::npos ? "" : base.substr(query);
  return base.substr(0, std::min(slash, query)) + "/" + name + tail;
}

// A database of its own on a shared server (the ctest smoke test): created here, dropped on exit.
class ScratchDatabase {
 public:
  explicit ScratchDatabase(std::string server_url) : admin_url_(std::move(server_url)) {
    name_ = "cairn_bench_" + std::to_string(getpid());
    pqxx::connection admin(admin_url_);
    pqxx::nontransaction tx(admin);
    tx.exec0("DROP DATABASE IF EXISTS " + tx.quote_name(name_) + " WITH (FORCE)");
    tx.exec0("CREATE DATABASE " + tx.quote_name(name_));
    url_ = database_url_for(admin_url_, name_);
  }
  ~ScratchDatabase() {
    try {
      pqxx::connection admin(admin_url_);
      pqxx::nontransaction tx(admin);
      tx.exec0("DROP DATABASE IF EXISTS " + tx.quote_name(name_) + " WITH (FORCE)");
    } catch (const std::exception& e) {
      std::cerr << "cairn-bench: could not drop " << name_ << ": " << e.what() << "\n";
    }
  }
  const std::string& url() const { return url_; }

 private:
  std::string admin_url_, name_, url_;
};

}  // namespace
}  // namespace cairn::bench

int main(int argc, char** argv) {
  CLI::App app{"cairn-bench: Cairn's benchmarks against a raw-PostgreSQL baseline (tools/bench runs this)"};
  cairn::bench::Options options;
  std::string markdown, scratch_server;
  // Memory first: its RSS deltas are only meaningful in a process that has not yet grown and
  // shrunk through the other scenarios' runtimes.
  std::vector<std::string> scenarios{"memory", "commands", "hotcold", "lag", "catchup", "scaleout"};
  if (const char* url = std::getenv("CAIRN_DATABASE_URL")) options.database_url = url;
  options.worker_path = CAIRN_WORKER_PATH;
  options.module_path = CAIRN_BENCH_MODULE;
  app.add_option("--db", options.database_url, "PostgreSQL URL (default: $CAIRN_DATABASE_URL)");
  app.add_option("--scratch-database-on", scratch_server,
                 "Run in a new database on this server (e.g. $CAIRN_TEST_DATABASE_URL), dropped afterwards");
  app.add_flag("--quick", options.quick, "A reduced run (smoke test)");
  app.add_option("--scenario", scenarios,
                 "Scenarios to run: memory, commands, hotcold, lag, catchup, scaleout (default: all, in this order)");
  app.add_option("--markdown", markdown, "Write the results as a Markdown table to this file");
  app.add_option("--worker", options.worker_path, "cairn-worker binary (scale-out)");
  app.add_option("--module", options.module_path, "The benchmark's application module (scale-out)");
  CLI11_PARSE(app, argc, argv);
  try {
    std::unique_ptr<cairn::bench::ScratchDatabase> scratch;
    if (!scratch_server.empty()) {
      scratch = std::make_unique<cairn::bench::ScratchDatabase>(scratch_server);
      options.database_url = scratch->url();
    }
    if (options.database_url.empty()) {
      std::cerr << "cairn-bench: no database: pass --db URL or set CAIRN_DATABASE_URL\n";
      return 2;
    }
    cairn::postgres::migrate(options.database_url);
    cairn::bench::Report report;
    for (const auto& s : scenarios) {
      auto start = cairn::bench::SteadyClock::now();
      size_t rows_before = report.rows().size();
      if (s == "commands")
        cairn::bench::commands_scenario(options, report);
      else if (s == "hotcold")
        cairn::bench::rehydration_scenario(options, report);
      else if (s == "memory")
        cairn::bench::memory_scenario(options, report);
      else if (s == "lag")
        cairn::bench::live_lag_scenario(options, report);
      else if (s == "catchup")
        cairn::bench::catch_up_scenario(options, report);
      else if (s == "scaleout")
        cairn::bench::scale_out_scenario(options, report);
      else
        throw std::runtime_error("unknown scenario " + s);
      // What the smoke test checks: every scenario produced figures (never how fast they are).
      if (report.rows().size() == rows_before) throw std::runtime_error("scenario " + s + " produced no figures");
      for (size_t i = rows_before; i < report.rows().size(); ++i)
        if (!std::isfinite(report.rows()[i].value) || !std::isfinite(report.rows()[i].ratio))
          throw std::runtime_error("scenario " + s + " produced a non-finite figure: " + report.rows()[i].variant);
      std::fprintf(stderr, "cairn-bench: %s took %.1f s\n", s.c_str(),
                   std::chrono::duration<double>(cairn::bench::SteadyClock::now() - start).count());
    }
    if (!markdown.empty()) std::ofstream(markdown) << report.markdown();
  } catch (const std::exception& e) {
    std::cerr << "cairn-bench: " << e.what() << "\n";
    return 1;
  }
}
