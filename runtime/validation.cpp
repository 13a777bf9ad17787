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

// Well-formed UTF-8 (RFC 3629, Table 3-7 of the Unicode standard): PostgreSQL and the JSON
// writer refuse anything else, and either would fail a whole group-commit batch.
bool valid_utf8(std::string_view s) {
  auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  for (size_t i = 0; i < s.size();) {
    unsigned char c = byte(i);
    size_t more = 0;
    unsigned char low = 0x80, high = 0xbf;  // the second byte's range
    if (c < 0x80) {
      ++i;
      continue;
    } else if (c >= 0xc2 && c <= 0xdf) {
      more = 1;
    } else if (c >= 0xe0 && c <= 0xef) {
      more = 2;
      if (c == 0xe0) low = 0xa0;   // no overlong forms
      if (c == 0xed) high = 0x9f;  // no surrogates
    } else if (c >= 0xf0 && c <= 0xf4) {
      more = 3;
      if (c == 0xf0) low = 0x90;
      if (c == 0xf4) high = 0x8f;  // nothing above U+10FFFF
    } else {
      return false;
    }
    if (i + more >= s.size() || byte(i + 1) < low || byte(i + 1) > high) return false;
    for (size_t k = 2; k <= more; ++k)
      if (byte(i + k) < 0x80 || byte(i + k) > 0xbf) return false;
    i += more + 1;
  }
  return true;
}

// Trace ids are indexed and matched by every trace: only bounded, printable strings.
void validate_trace_ids(const Message& m, const Limits& limits) {
  for (const char* key : {"correlation_id", "causation_id"}) {
    auto it = m.metadata.find(key);
    if (it == m.metadata.end()) continue;
    std::string what = "message " + m.type + ": metadata " + key;
    if (!it->is_string()) throw BadInput(what + " must be a string");
    validate_trace_id(it->get_ref<const std::string&>(), what, limits);
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
  validate_trace_ids(m, limits);
  if (contains_nul(m.payload) || contains_nul(m.metadata))
    throw BadInput("message " + m.type + ": JSON strings must not contain \\u0000");
  size_t bytes = m.payload.dump().size() + m.metadata.dump().size();
  if (bytes > limits.max_payload_bytes)
    throw BadInput("message " + m.type + ": payload and metadata are " + std::to_string(bytes) +
                   " bytes; the limit is " + std::to_string(limits.max_payload_bytes));
}

void validate_trace_id(std::string_view id, std::string_view what, const Limits& limits) {
  std::string name(what);
  if (id.empty()) throw BadInput(name + " must not be empty");
  if (id.size() > limits.max_trace_id_bytes)
    throw BadInput(name + " is " + std::to_string(id.size()) + " bytes; the limit is " +
                   std::to_string(limits.max_trace_id_bytes));
  if (!valid_utf8(id)) throw BadInput(name + " is not valid UTF-8");
  for (unsigned char c : id)
    if (c < 0x20 || c == 0x7f) throw BadInput(name + " " + quoted(id) + " contains a control character");
}

void start_trace(Message& command, const Trace& trace, const Limits& limits) {
  if (!command.metadata.is_object()) throw BadInput("metadata must be a JSON object");
  for (std::string_view key : reserved_metadata_keys) {
    auto it = command.metadata.find(key);
    if (it == command.metadata.end()) continue;
    bool own_id = key == "correlation_id" && it->is_string() && it->get_ref<const std::string&>() == command.id;
    if (own_id) continue;  // what make_message sets: a trace of its own
    std::string reason = "metadata key '" + std::string(key) + "' is reserved: Cairn sets it";
    if (key == "correlation_id") reason += "; pass your own with --correlation-id (CLI) or a cairn::Trace (C++)";
    throw BadInput(reason);
  }
  if (!trace.correlation_id.empty()) validate_trace_id(trace.correlation_id, "correlation id", limits);
  command.metadata["correlation_id"] = trace.correlation_id.empty() ? command.id : trace.correlation_id;
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
