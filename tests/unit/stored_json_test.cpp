// Unit tests: stored JSON text decodes to the Json nlohmann's own parser gives, types included.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "backends/postgres/stored_json.hpp"

using cairn::Json;
using cairn::postgres::parse_stored_json;

TEST_CASE("stored JSON decodes as nlohmann's parser does, number types included") {
  std::vector<std::string> texts = {
      R"({"by": 1})",
      R"({"correlation_id": "3ced010c-d079-4417-aa71-c48f9b1b8d93", "dispatched": true})",
      R"({})", R"([])", R"(null)", R"(true)", R"(false)", R"("text")", R"(0)", R"(-1)", R"(42)",
      R"(9223372036854775807)", R"(9223372036854775808)", R"(18446744073709551615)", R"(-9223372036854775808)",
      R"(18446744073709551616)", R"(-9223372036854775809)", R"(1.5)", R"(-0.0)", R"(1e2)", R"(1E-7)",
      R"(0.1)", R"(1.7976931348623157e308)", R"(5e-324)", R"(123456789012345678901234567890)",
      R"({"a": [1, -2, 3.25, "x", null, true, {"b": []}], "c": {"d": {"e": "f"}}})",
      R"({"esc": "quote \" backslash \\ slash \/ \b\f\n\r\t", "u": "caf\u00e9 \ud83d\ude00 \u0000 end"})",
      R"({"dup": 1, "dup": 2})",
      R"({"z": 1, "a": 2, "m": [3]})",
      "  {\"spaced\" :\t[ 1 ,2 ]\n}  ",
  };
  for (const auto& text : texts) {
    INFO(text);
    auto expected = Json::parse(text);
    auto decoded = parse_stored_json(text);
    CHECK(decoded == expected);
    CHECK(decoded.dump() == expected.dump());
    CHECK(decoded.type() == expected.type());
    if (decoded.is_array() && !decoded.empty()) CHECK(decoded[0].type() == expected[0].type());
    if (decoded.is_object() && decoded.contains("a") && decoded["a"].is_array())
      for (size_t i = 0; i < expected["a"].size(); ++i) CHECK(decoded["a"][i].type() == expected["a"][i].type());
  }
  // jsonb prints no "-0" (numeric has no negative zero); nlohmann's signed zero equals ours.
  CHECK(parse_stored_json("-0") == Json::parse("-0"));
  // A large document (past the simdjson parser's bound) decodes alike.
  Json big = Json::object();
  for (int i = 0; i < 5000; ++i) big["key-" + std::to_string(i)] = {i, -i, "value " + std::to_string(i)};
  CHECK(parse_stored_json(big.dump()) == big);
}

TEST_CASE("malformed stored JSON throws as nlohmann's parser does") {
  for (std::string text : {"", "{", "{\"a\": }", "[1, 2", "nul", "\"unterminated", "{\"a\": 1} trailing", "01"}) {
    INFO(text);
    CHECK_THROWS_AS(parse_stored_json(text), Json::parse_error);
  }
}
