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
// Accepts RFC 3339 / ISO 8601 date-times with an optional fraction and offset; throws BadInput.
Timestamp parse_time(std::string_view text);

// Parses JSON text supplied by a user; throws BadInput naming `what` on malformed input.
Json parse_json(std::string_view text, std::string_view what);

void to_json(Json& j, const Message& m);
void from_json(const Json& j, Message& m);

}  // namespace cairn
