// How `cairn-worker` and `cairn console` log: spdlog on stderr, one line per record, as readable text
// or as JSON objects (--log-format), records below --log-level left out.
#pragma once

#include <string>

#include <CLI/CLI.hpp>

#include <cairn/log.hpp>

namespace cairn::tools {

struct LogOptions {
  std::string format = "text";  // or "json"
  std::string level = "info";
};

// --log-format and --log-level.
void add_log_options(CLI::App& app, LogOptions& options);

// The sink for the runtime (WorkerOptions::log) and the program's own lines. Flushes every line.
LogSink stderr_log(const LogOptions& options);

}  // namespace cairn::tools
