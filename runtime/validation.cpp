#include <cairn/validation.hpp>

#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include <cairn/errors.hpp>

namespace cairn {
namespace {

std::string quoted(std::string_view s) { return "'" + printable(s) + "'"; }

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

}  // namespace

std::string printable(std::string_view s, size_t max) {
  bool utf8 = valid_utf8(s);
  std::string out;
  for (unsigned char c : s.substr(0, max)) {
    if (c < 0x20 || c == 0x7f || (c >= 0x80 && !utf8)) {
      char hex[8];
      std::snprintf(hex, sizeof hex, "\\x%02x", c);
      out += hex;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + (s.size() > max ? "..." : "");
}

namespace {

// One step of a JSON pointer (RFC 6901): an object key or an array index.
std::string pointer_step(std::string_view key) {
  std::string out = "/";
  for (char c : key) out += c == '~' ? std::string("~0") : c == '/' ? std::string("~1") : std::string(1, c);
  return out;
}

// " at /a/0/b", or "" for the top level.
std::string at(const std::string& pointer) { return pointer.empty() ? "" : " at " + printable(pointer); }

// What a JSON string or key must be to be stored: PostgreSQL's jsonb holds neither \u0000 nor
// invalid UTF-8, and nlohmann's dump() throws on the latter.
void check_json_text(std::string_view text, std::string_view what, const std::string& pointer, bool key) {
  std::string_view kind = key ? "key" : "string";
  if (text.find('\0') != std::string_view::npos)
    throw BadInput(std::string(what) + ": JSON strings must not contain \\u0000 (" + std::string(kind) + at(pointer) +
                   ")");
  if (!valid_utf8(text))
    throw BadInput(std::string(what) + ": " + std::string(kind) + " " + quoted(text) + at(pointer) +
                   " is not valid UTF-8");
}

[[noreturn]] void too_deep(std::string_view what, const std::string& pointer, const Limits& limits) {
  throw BadInput(std::string(what) + ": JSON nested deeper than " + std::to_string(limits.max_json_depth) +
                 " levels" + at(pointer));
}

// nlohmann's DOM builder behind a SAX handler that tracks where it is, so that parsing stops at the
// first value nested too deep or a number that does not fit, naming it.
class BoundedJsonBuilder {
 public:
  using Dom = nlohmann::detail::json_sax_dom_parser<Json>;
  BoundedJsonBuilder(Json& root, std::string_view what, const Limits& limits)
      : dom_(root), what_(what), limits_(limits) {}

  bool null() { return value(), dom_.null(); }
  bool boolean(bool v) { return value(), dom_.boolean(v); }
  bool number_integer(Json::number_integer_t v) { return value(), dom_.number_integer(v); }
  bool number_unsigned(Json::number_unsigned_t v) { return value(), dom_.number_unsigned(v); }
  bool number_float(Json::number_float_t v, const std::string& text) {
    value();
    // The lexer reads an integer that overflows 64 bits as a double: refuse the silent rounding.
    if (text.find_first_of(".eE") == std::string::npos)
      throw BadInput(what_ + ": the integer " + printable(text, 40) + pointer_text() +
                     " does not fit in 64 bits (at most 18446744073709551615, at least -9223372036854775808)");
    if (v == 0 && text.find_first_of("123456789") < text.find_first_of("eE"))
      throw BadInput(what_ + ": the number " + printable(text, 40) + pointer_text() + " is too small for a double");
    return dom_.number_float(v, text);
  }
  bool string(std::string& v) { return value(), dom_.string(v); }
  bool binary(Json::binary_t& v) { return value(), dom_.binary(v); }
  bool start_object(size_t n) {
    enter(false);
    return dom_.start_object(n);
  }
  bool key(std::string& k) {
    levels_.back().key = k;
    return dom_.key(k);
  }
  bool end_object() {
    levels_.pop_back();
    return dom_.end_object();
  }
  bool start_array(size_t n) {
    enter(true);
    return dom_.start_array(n);
  }
  bool end_array() {
    levels_.pop_back();
    return dom_.end_array();
  }
  template <class Exception>
  bool parse_error(size_t, const std::string& token, const Exception& e) {
    if (e.id == 406) {  // a float beyond double's range (the lexer read it as infinity)
      value();
      throw BadInput(what_ + ": the number " + printable(token, 40) + pointer_text() + " is out of range for a double");
    }
    throw BadInput("malformed JSON in " + what_ + ": " + printable(e.what(), 300));
  }

 private:
  struct Level {
    bool array = false;
    size_t values = 0;  // an array's elements so far
    std::string key;    // an object's current key
  };
  // Every value, before it is added: an array counts it.
  void value() {
    if (!levels_.empty() && levels_.back().array) ++levels_.back().values;
  }
  void enter(bool array) {
    value();
    if (levels_.size() >= limits_.max_json_depth) too_deep(what_, pointer(), limits_);
    levels_.push_back({array, 0, {}});
  }
  std::string pointer() const {
    std::string out;
    for (const auto& level : levels_)
      out += level.array ? "/" + std::to_string(level.values - 1) : pointer_step(level.key);
    return out;
  }
  std::string pointer_text() const { return at(pointer()); }

  Dom dom_;
  std::string what_;
  const Limits& limits_;
  std::vector<Level> levels_;
};

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

void validate_text(std::string_view text, std::string_view what, size_t max_bytes) {
  std::string name(what);
  if (text.empty()) throw BadInput(name + " must not be empty");
  if (text.size() > max_bytes)
    throw BadInput(name + " " + quoted(text) + " is " + std::to_string(text.size()) + " bytes; the limit is " +
                   std::to_string(max_bytes));
  if (!valid_utf8(text)) throw BadInput(name + " " + quoted(text) + " is not valid UTF-8");
  for (unsigned char c : text)
    if (c < 0x20 || c == 0x7f) throw BadInput(name + " " + quoted(text) + " contains a control character");
}

void validate_stream_id(std::string_view stream_id, const Limits& limits) {
  validate_text(stream_id, "stream id", limits.max_stream_id_bytes);
}

void validate_type(std::string_view type, const Limits& limits, std::string_view what) {
  std::string name(what);
  if (type.empty()) throw BadInput(name + " must not be empty");
  if (type.size() > limits.max_type_bytes)
    throw BadInput(name + " " + quoted(type) + " is longer than " + std::to_string(limits.max_type_bytes) + " bytes");
  for (char c : type) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
              c == '-' || c == ':' || c == '/';
    if (!ok) throw BadInput(name + " " + quoted(type) + " may only use letters, digits and . _ - : /");
  }
}

void validate_rejection_code(std::string_view code) {
  constexpr size_t max = 64;
  bool ok = !code.empty() && code.size() <= max;
  for (char c : code)
    ok = ok && ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-');
  if (!ok)
    throw BadInput("rejection code " + quoted(code) + " is not 1 to " + std::to_string(max) +
                   " characters of [a-z0-9_.-] (e.g. insufficient_funds)");
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

void validate_message_json(const Message& m, std::string_view kind, const Limits& limits) {
  try {
    validate_json(m.payload, "payload", limits);
    validate_json(m.metadata, "metadata", limits);
  } catch (const BadInput& e) {
    throw BadInput(std::string(kind) + " " + m.type + ": " + e.what());
  }
}

void validate_json(const Json& value, std::string_view what, const Limits& limits) {
  // Depth-first with an explicit stack of (container, position): the stack never grows past
  // max_json_depth, and the positions spell the JSON pointer of the value being checked.
  struct Frame {
    const Json* node;
    Json::const_iterator it;
    size_t index;
  };
  std::vector<Frame> stack;
  auto pointer = [&] {
    std::string out;
    for (const auto& f : stack)
      if (f.it != f.node->end()) out += f.node->is_object() ? pointer_step(f.it.key()) : "/" + std::to_string(f.index);
    return out;
  };
  auto check = [&](const Json& j) {
    switch (j.type()) {
      case Json::value_t::string: check_json_text(j.get_ref<const std::string&>(), what, pointer(), false); break;
      case Json::value_t::number_float:
        if (!std::isfinite(j.get<double>()))
          throw BadInput(std::string(what) + ": the number" + at(pointer()) + " is not finite");
        break;
      case Json::value_t::object:
      case Json::value_t::array:
        if (stack.size() >= limits.max_json_depth) too_deep(what, pointer(), limits);
        stack.push_back({&j, j.begin(), 0});
        break;
      default: break;
    }
  };
  check(value);
  while (!stack.empty()) {
    auto& top = stack.back();
    if (top.it == top.node->end()) {
      stack.pop_back();
      if (!stack.empty()) {  // the parent moves past the container just checked
        ++stack.back().it;
        ++stack.back().index;
      }
      continue;
    }
    if (top.node->is_object()) check_json_text(top.it.key(), what, pointer(), true);
    const Json& child = *top.it;
    bool container = child.is_structured();
    check(child);  // a container is pushed: its parent moves on once it is done
    if (!container) {
      ++top.it;
      ++top.index;
    }
  }
}

Json parse_json(std::string_view text, std::string_view what, const Limits& limits) {
  Json root;
  BoundedJsonBuilder builder(root, what, limits);
  try {
    Json::sax_parse(text, &builder);
  } catch (const Json::exception& e) {  // what the DOM builder itself may throw
    throw BadInput("malformed JSON in " + std::string(what) + ": " + e.what());
  }
  return root;
}

void validate_message(const Message& m, const Limits& limits) {
  validate_stream_id(m.stream_id, limits);
  validate_type(m.type, limits);
  validate_uuid(m.id, "message id");
  if (m.revision < 1) throw BadInput("message " + m.type + ": revision must be at least 1");
  if (!m.payload.is_object()) throw BadInput("message " + m.type + ": payload must be a JSON object");
  if (!m.metadata.is_object()) throw BadInput("message " + m.type + ": metadata must be a JSON object");
  validate_trace_ids(m, limits);
  // Before anything serializes them: dump() recurses, and throws on invalid UTF-8.
  validate_message_json(m, "message", limits);
  size_t bytes = m.payload.dump().size() + m.metadata.dump().size();
  if (bytes > limits.max_payload_bytes)
    throw BadInput("message " + m.type + ": payload and metadata are " + std::to_string(bytes) +
                   " bytes; the limit is " + std::to_string(limits.max_payload_bytes));
}

void validate_trace_id(std::string_view id, std::string_view what, const Limits& limits) {
  validate_text(id, what, limits.max_trace_id_bytes);
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
