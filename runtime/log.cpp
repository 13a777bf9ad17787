#include <cairn/log.hpp>

#include <cairn/errors.hpp>
#include <cairn/validation.hpp>

namespace cairn {

std::string_view to_string(LogLevel level) {
  switch (level) {
    case LogLevel::debug: return "debug";
    case LogLevel::info: return "info";
    case LogLevel::warn: return "warn";
    case LogLevel::error: return "error";
  }
  return "info";
}

LogLevel parse_log_level(std::string_view text) {
  for (auto level : {LogLevel::debug, LogLevel::info, LogLevel::warn, LogLevel::error})
    if (text == to_string(level)) return level;
  if (text == "warning") return LogLevel::warn;
  throw BadInput("log level '" + printable(text, 40) + "' is none of debug, info, warn, error");
}

std::string format_text(const LogRecord& record) {
  std::string out = "cairn: ";
  if (record.level == LogLevel::warn) out += "warning: ";
  if (record.level == LogLevel::error) out += "error: ";
  return out + record.message;
}

std::string format_json(const LogRecord& record) {
  Json line = {{"time", format_time(record.time)}, {"level", to_string(record.level)}, {"message", record.message}};
  if (!record.group.empty()) line["group"] = record.group;
  if (!record.stream_id.empty()) line["stream"] = record.stream_id;
  if (record.seq > 0) line["seq"] = record.seq;
  if (!record.message_id.empty()) line["message_id"] = record.message_id;
  if (!record.correlation_id.empty()) line["correlation_id"] = record.correlation_id;
  // Text from handlers' exceptions may be any bytes: replace what is not UTF-8 rather than throw.
  return line.dump(-1, ' ', false, Json::error_handler_t::replace);
}

}  // namespace cairn
