#include "tools/logging.hpp"

#include <memory>

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

namespace cairn::tools {
namespace {

spdlog::level::level_enum spdlog_level(LogLevel level) {
  switch (level) {
    case LogLevel::debug: return spdlog::level::debug;
    case LogLevel::info: return spdlog::level::info;
    case LogLevel::warn: return spdlog::level::warn;
    case LogLevel::error: return spdlog::level::err;
  }
  return spdlog::level::info;
}

}  // namespace

void add_log_options(CLI::App& app, LogOptions& options) {
  app.add_option("--log-format", options.format,
                 "text: readable lines; json: one JSON object per line with time, level, message and, where "
                 "they apply, group, stream, seq, message_id and correlation_id")
      ->capture_default_str()
      ->check(CLI::IsMember({"text", "json"}));
  app.add_option("--log-level", options.level, "Leave out records below this level: debug, info, warn, error")
      ->capture_default_str()
      ->check(CLI::IsMember({"debug", "info", "warn", "error"}));
}

LogSink stderr_log(const LogOptions& options) {
  // The formats are ours (format_text, format_json): spdlog adds nothing to a line but its end.
  auto logger = std::make_shared<spdlog::logger>("cairn", std::make_shared<spdlog::sinks::stderr_sink_mt>());
  logger->set_pattern("%v");
  logger->set_level(spdlog_level(parse_log_level(options.level)));
  logger->flush_on(spdlog::level::trace);
  bool json = options.format == "json";
  return [logger, json](const LogRecord& record) {
    logger->log(spdlog_level(record.level), "{}", json ? format_json(record) : format_text(record));
  };
}

}  // namespace cairn::tools
