#include "backends/postgres/stored_json.hpp"

#include <simdjson.h>

namespace cairn::postgres {
namespace {

// Larger documents go to nlohmann's parser: a thread's simdjson parser keeps buffers the size of
// the largest document it has read.
constexpr size_t largest_parsed_here = 64 * 1024;

Json to_json(simdjson::dom::element e) {
  using simdjson::dom::element_type;
  switch (e.type()) {
    case element_type::OBJECT: {
      Json out = Json::object();
      for (auto [key, value] : simdjson::dom::object(e)) out[std::string(key)] = to_json(value);  // the last key wins
      return out;
    }
    case element_type::ARRAY: {
      Json out = Json::array();
      for (auto value : simdjson::dom::array(e)) out.push_back(to_json(value));
      return out;
    }
    case element_type::STRING:
      return std::string(std::string_view(e));
    case element_type::INT64: {
      auto n = int64_t(e);
      return n >= 0 ? Json(static_cast<uint64_t>(n)) : Json(n);
    }
    case element_type::UINT64:
      return uint64_t(e);
    case element_type::DOUBLE:
      return double(e);
    case element_type::BOOL:
      return bool(e);
    case element_type::NULL_VALUE:
      break;
  }
  return nullptr;
}

}  // namespace

Json parse_stored_json(std::string_view text) {
  if (text.size() <= largest_parsed_here) {
    thread_local simdjson::dom::parser parser;
    auto parsed = parser.parse(text.data(), text.size());  // copied into the parser's padded buffer
    if (!parsed.error()) return to_json(parsed.value_unsafe());
  }
  // What simdjson refuses (a number past 64 bits, malformed text) is nlohmann's to judge.
  return Json::parse(text.begin(), text.end());
}

}  // namespace cairn::postgres
