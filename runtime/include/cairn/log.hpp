// What the runtime has to say while it runs consumers (WorkerOptions::log): records with a level
// and the context they concern as fields of their own, so a log pipeline needs no parsing.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include <cairn/message.hpp>

namespace cairn {

enum class LogLevel { debug, info, warn, error };

std::string_view to_string(LogLevel level);
// "debug", "info", "warn" (or "warning") and "error"; throws BadInput otherwise.
LogLevel parse_log_level(std::string_view text);

struct LogRecord {
  LogLevel level = LogLevel::info;
  std::string message{};  // a sentence that reads on its own (it names the group and stream too)
  // The context, where it applies: empty (seq 0) otherwise.
  std::string group{};           // consumer group
  std::string stream_id{};
  int64_t seq = 0;               // of the event (or command) concerned
  std::string message_id{};      // its id
  std::string correlation_id{};  // its trace
  Timestamp time = now();
};

// Where records go; the default prints format_text on stderr.
using LogSink = std::function<void(const LogRecord&)>;

// `cairn: MESSAGE`, with `warning: ` or `error: ` before the message at those levels.
std::string format_text(const LogRecord& record);
// One line of JSON: {"time", "level", "message"} and, when set, "group", "stream", "seq",
// "message_id", "correlation_id".
std::string format_json(const LogRecord& record);

}  // namespace cairn
