#include "runtime/validation.hpp"

#include <cstdio>
#include <string>

#include "runtime/errors.hpp"

namespace cairn {
namespace {

std::string quoted(std::string_view s) {
  std::string out = "'";
  for (unsigned char c : s.substr(0, 80)) {
    if (c < 0x20 || c == 0x7f) {
      char hex[8];
      std::snprintf(hex, sizeof hex, "\\x%02x", c);
      out += hex;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + (s.size() > 80 ? "...'" : "'");
}

// PostgreSQL's jsonb cannot hold \u0000; rejecting it everywhere keeps the backends equivalent.
bool contains_nul(const Json& j) {
  switch (j.type()) {
    case Json::value_t::string: return j.get_ref<const std::string&>().find('\0') != std::string::npos;
    case Json::value_t::object:
      for (const auto& [key, value] : j.items())
        if (key.find('\0') != std::string::npos || contains_nul(value)) return true;
      return false;
    case Json::value_t::array:
      for (const auto& value : j)
        if (contains_nul(value)) return true;
      return false;
    default: return false;
  }
}

}  // namespace

void validate_stream_id(std::string_view stream_id, const Limits& limits) {
  if (stream_id.empty()) throw BadInput("stream id must not be empty");
  if (stream_id.size() > limits.max_stream_id_bytes)
    throw BadInput("stream id " + quoted(stream_id) + " is " + std::to_string(stream_id.size()) +
                   " bytes; the limit is " + std::to_string(limits.max_stream_id_bytes));
  for (unsigned char c : stream_id)
    if (c < 0x20 || c == 0x7f) throw BadInput("stream id " + quoted(stream_id) + " contains a control character");
}

void validate_type(std::string_view type, const Limits& limits) {
  if (type.empty()) throw BadInput("message type must not be empty");
  if (type.size() > limits.max_type_bytes)
    throw BadInput("message type " + quoted(type) + " is longer than " + std::to_string(limits.max_type_bytes) +
                   " bytes");
  for (char c : type) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
              c == '-' || c == ':' || c == '/';
    if (!ok) throw BadInput("message type " + quoted(type) + " may only use letters, digits and . _ - : /");
  }
}

void validate_uuid(std::string_view id, std::string_view what) {
  bool ok = id.size() == 36;
  for (size_t i = 0; ok && i < id.size(); ++i) {
    char c = id[i];
    ok = (i == 8 || i == 13 || i == 18 || i == 23) ? c == '-'
                                                   : (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
                                                         (c >= 'A' && c <= 'F');
  }
  if (!ok) throw BadInput(std::string(what) + " " + quoted(id) + " is not a UUID");
}

void validate_message(const Message& m, const Limits& limits) {
  validate_stream_id(m.stream_id, limits);
  validate_type(m.type, limits);
  validate_uuid(m.id, "message id");
  if (m.revision < 1) throw BadInput("message " + m.type + ": revision must be at least 1");
  if (!m.payload.is_object()) throw BadInput("message " + m.type + ": payload must be a JSON object");
  if (!m.metadata.is_object()) throw BadInput("message " + m.type + ": metadata must be a JSON object");
  if (contains_nul(m.payload) || contains_nul(m.metadata))
    throw BadInput("message " + m.type + ": JSON strings must not contain \\u0000");
  size_t bytes = m.payload.dump().size() + m.metadata.dump().size();
  if (bytes > limits.max_payload_bytes)
    throw BadInput("message " + m.type + ": payload and metadata are " + std::to_string(bytes) +
                   " bytes; the limit is " + std::to_string(limits.max_payload_bytes));
}

uint32_t stream_hash(std::string_view stream_id) {
  uint32_t h = 2166136261u;
  for (unsigned char c : stream_id) {
    h ^= c;
    h *= 16777619u;
  }
  return h;
}

}  // namespace cairn
