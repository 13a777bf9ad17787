// JSON text the database returns (payloads, metadata, states) into Json, parsed by simdjson.
#pragma once

#include <string_view>

#include <cairn/message.hpp>

namespace cairn::postgres {

// The same Json as nlohmann's parser gives for what jsonb prints (types included: a non-negative
// integer is unsigned), in a third of its time: decoding a catch-up's events was two fifths of
// the client's CPU. Malformed text throws as nlohmann's parser does.
Json parse_stored_json(std::string_view text);

}  // namespace cairn::postgres
