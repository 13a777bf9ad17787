#include "runtime/message.hpp"

#include <uuid/uuid.h>

#include <cstdio>
#include <ctime>

#include "runtime/errors.hpp"

namespace cairn {

std::string new_uuid() {
  uuid_t raw;
  uuid_generate_random(raw);
  char text[37];
  uuid_unparse_lower(raw, text);
  return text;
}

Timestamp now() { return std::chrono::time_point_cast<std::chrono::microseconds>(Clock::now()); }

Message make_message(std::string stream_id, std::string type, Json payload, Json metadata, int revision) {
  Message m;
  m.id = new_uuid();
  m.stream_id = std::move(stream_id);
  m.type = std::move(type);
  m.revision = revision;
  m.payload = std::move(payload);
  if (!metadata.is_object() && !metadata.is_null()) throw BadInput("metadata must be a JSON object");
  m.metadata = metadata.is_object() ? std::move(metadata) : Json::object();
  if (!m.metadata.contains("correlation_id")) m.metadata["correlation_id"] = m.id;
  return m;
}

std::string metadata_string(const Json& metadata, std::string_view key) {
  auto it = metadata.find(key);
  return it != metadata.end() && it->is_string() ? it->get<std::string>() : std::string();
}

std::string format_time(Timestamp t) {
  auto micros = t.time_since_epoch().count();
  auto secs = static_cast<std::time_t>(micros >= 0 ? micros / 1000000 : (micros - 999999) / 1000000);
  auto frac = static_cast<long>(micros - static_cast<int64_t>(secs) * 1000000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[96];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
  return buf;
}

Timestamp parse_time(std::string_view text) {
  std::string s(text);
  std::tm tm{};
  int consumed = 0;
  if (std::sscanf(s.c_str(), "%4d-%2d-%2d%*1[T ]%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
                  &tm.tm_min, &tm.tm_sec, &consumed) != 6)
    throw BadInput("invalid time '" + s + "': expected e.g. 2026-11-26T11:02:31Z");
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  std::string_view rest = std::string_view(s).substr(static_cast<size_t>(consumed));
  int64_t micros = 0;
  if (!rest.empty() && rest.front() == '.') {
    rest.remove_prefix(1);
    int digits = 0;
    while (!rest.empty() && rest.front() >= '0' && rest.front() <= '9') {
      if (digits < 6) micros = micros * 10 + (rest.front() - '0');
      ++digits;
      rest.remove_prefix(1);
    }
    if (digits == 0) throw BadInput("invalid time '" + s + "': empty fraction");
    for (; digits < 6; ++digits) micros *= 10;
  }
  int64_t offset_seconds = 0;
  if (rest == "Z" || rest == "z" || rest.empty()) {
  } else if (rest.front() == '+' || rest.front() == '-') {
    int hh = 0, mm = 0;
    std::string off(rest.substr(1));
    if (std::sscanf(off.c_str(), "%2d:%2d", &hh, &mm) != 2 && std::sscanf(off.c_str(), "%2d%2d", &hh, &mm) != 2 &&
        std::sscanf(off.c_str(), "%2d", &hh) != 1)
      throw BadInput("invalid time offset in '" + s + "'");
    offset_seconds = (hh * 3600 + mm * 60) * (rest.front() == '-' ? -1 : 1);
  } else {
    throw BadInput("invalid time '" + s + "': unexpected '" + std::string(rest) + "'");
  }
  auto secs = static_cast<int64_t>(timegm(&tm)) - offset_seconds;
  return Timestamp(std::chrono::microseconds(secs * 1000000 + micros));
}

Json parse_json(std::string_view text, std::string_view what) {
  try {
    return Json::parse(text);
  } catch (const Json::parse_error& e) {
    throw BadInput("malformed JSON in " + std::string(what) + ": " + e.what());
  }
}

void to_json(Json& j, const Message& m) {
  j = Json{{"id", m.id},
           {"stream_id", m.stream_id},
           {"seq", m.seq},
           {"position", m.position},
           {"type", m.type},
           {"revision", m.revision},
           {"payload", m.payload},
           {"metadata", m.metadata},
           {"created_at", format_time(m.created_at)}};
}

void from_json(const Json& j, Message& m) {
  if (!j.is_object()) throw BadInput("a message must be a JSON object");
  try {
    m.id = j.value("id", std::string());
    m.stream_id = j.value("stream_id", std::string());
    m.seq = j.value("seq", int64_t{0});
    m.position = j.value("position", int64_t{0});
    m.type = j.value("type", std::string());
    m.revision = j.value("revision", 1);
    m.payload = j.value("payload", Json::object());
    m.metadata = j.value("metadata", Json::object());
    m.created_at = j.contains("created_at") ? parse_time(j.at("created_at").get<std::string>()) : Timestamp{};
  } catch (const Json::exception& e) {
    throw BadInput(std::string("malformed message: ") + e.what());
  }
}

}  // namespace cairn
