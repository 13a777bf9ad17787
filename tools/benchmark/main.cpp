// cairn-bench: Cairn's benchmarks, each next to a raw-PostgreSQL baseline measured in the same run.
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>

#include <CLI/CLI.hpp>

#include "backends/postgres/migrations.hpp"
#include "tools/benchmark/report.hpp"

namespace cairn::bench {

std::string Report::markdown() const {
  std::ostringstream out;
  out << "| scenario | variant | value | unit | ratio | baseline | notes |\n|---|---|---:|---|---:|---|---|\n";
  for (const auto& r : rows_) {
    char value[32], ratio[32] = "";
    std::snprintf(value, sizeof value, "%.0f", r.value);
    if (r.ratio > 0) std::snprintf(ratio, sizeof ratio, "%.2fx", r.ratio);
    out << "| " << r.scenario << " | " << r.variant << " | " << value << " | " << r.unit << " | " << ratio << " | "
        << r.baseline << " | " << r.note << " |\n";
  }
  return out.str();
}

}  // namespace cairn::bench

int main(int argc, char** argv) {
  CLI::App app{"cairn-bench: Cairn's benchmarks against a raw-PostgreSQL baseline (tools/bench runs this)"};
  cairn::bench::Options options;
  std::string markdown;
  std::vector<std::string> scenarios{"commands", "lag", "catchup"};
  if (const char* url = std::getenv("CAIRN_DATABASE_URL")) options.database_url = url;
  app.add_option("--db", options.database_url, "PostgreSQL URL (default: $CAIRN_DATABASE_URL)");
  app.add_flag("--quick", options.quick, "A reduced run (smoke test)");
  app.add_option("--scenario", scenarios, "Scenarios to run: commands, lag, catchup (default: all)");
  app.add_option("--markdown", markdown, "Write the results as a Markdown table to this file");
  CLI11_PARSE(app, argc, argv);
  if (options.database_url.empty()) {
    std::cerr << "cairn-bench: no database: pass --db URL or set CAIRN_DATABASE_URL\n";
    return 2;
  }
  try {
    cairn::postgres::migrate(options.database_url);
    cairn::bench::Report report;
    for (const auto& s : scenarios) {
      if (s == "commands")
        cairn::bench::commands_scenario(options, report);
      else if (s == "lag")
        cairn::bench::live_lag_scenario(options, report);
      else if (s == "catchup")
        cairn::bench::catch_up_scenario(options, report);
      else
        throw std::runtime_error("unknown scenario " + s);
    }
    if (!markdown.empty()) std::ofstream(markdown) << report.markdown();
  } catch (const std::exception& e) {
    std::cerr << "cairn-bench: " << e.what() << "\n";
    return 1;
  }
}
