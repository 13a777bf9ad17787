// The message envelope (command or event) and its one JSON codec.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace cairn {

using Json = nlohmann::json;
using Clock = std::chrono::system_clock;
using Timestamp = std::chrono::time_point<Clock, std::chrono::microseconds>;

struct Message {
  std::string id;  // uuid, assigned by the producer so a retried append is recognised
  std::string stream_id;
  int64_t seq = 0;       // 1-based in its stream, assigned on append
  int64_t position = 0;  // global, assigned by the store
  std::string type;
  int revision = 1;  // schema version of the payload
  Json payload = Json::object();
  Json metadata = Json::object();  // correlation_id, causation_id, producer, user keys
  Timestamp created_at{};
};

// Where a command sent from outside Cairn starts its trace (metadata correlation_id): by default
// its own id; or the caller's id, e.g. an HTTP request's (checked by validate_trace_id).
struct Trace {
  std::string correlation_id;
};

// The string under `key`, or "" when it is absent or not a string: stored metadata may come from
// older versions or tools, and reading it must not throw in a worker.
std::string metadata_string(const Json& metadata, std::string_view key);

// A new message with a fresh id; its correlation id defaults to its own id.
Message make_message(std::string stream_id, std::string type, Json payload, Json metadata = Json::object(),
                     int revision = 1);

std::string new_uuid();
Timestamp now();

// RFC 3339 in UTC with microseconds, e.g. 2026-11-26T11:02:31.123456Z.
std::string format_time(Timestamp t);
// Strict RFC 3339: YYYY-MM-DD, then T (or t, or a space), HH:MM:SS, an optional fraction (digits
// past the sixth are truncated), then Z (or z) or an offset +HH:MM / -HH:MM; nothing after it.
// Each field is range-checked (2026-02-30 is refused, not rolled over to March 2). A leap second
// (:60) is refused: Cairn's clock, like POSIX time, has none. Throws BadInput naming the text.
Timestamp parse_time(std::string_view text);

void to_json(Json& j, const Message& m);
void from_json(const Json& j, Message& m);

}  // namespace cairn
