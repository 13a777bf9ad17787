// Unit tests: the message envelope, its JSON codec, time formats and validation rules.
#include <doctest/doctest.h>

#include <optional>
#include <vector>

#include "backends/store.hpp"
#include "runtime/errors.hpp"
#include "runtime/message.hpp"
#include "runtime/message_type.hpp"
#include "runtime/validation.hpp"

using namespace cairn;

TEST_CASE("make_message assigns a uuid and defaults the correlation id to itself") {
  auto m = make_message("cart-1", "carts.item_added", {{"sku", "A"}});
  CHECK_NOTHROW(validate_uuid(m.id, "id"));
  CHECK(m.metadata["correlation_id"] == m.id);
  auto kept = make_message("cart-1", "carts.item_added", {}, {{"correlation_id", "c-1"}});
  CHECK(kept.metadata["correlation_id"] == "c-1");
  CHECK(make_message("a", "b", {}).id != make_message("a", "b", {}).id);
}

TEST_CASE("the JSON codec round-trips every envelope field") {
  auto m = make_message("cart-1", "carts.item_added", {{"sku", "A"}, {"qty", 2}}, {{"producer", "test"}}, 3);
  m.seq = 7;
  m.position = 99;
  m.created_at = parse_time("2026-11-26T11:02:31.123456Z");
  Json j = m;
  CHECK(j["created_at"] == "2026-11-26T11:02:31.123456Z");
  auto back = j.get<Message>();
  CHECK(back.id == m.id);
  CHECK(back.stream_id == "cart-1");
  CHECK(back.seq == 7);
  CHECK(back.position == 99);
  CHECK(back.type == "carts.item_added");
  CHECK(back.revision == 3);
  CHECK(back.payload == m.payload);
  CHECK(back.metadata == m.metadata);
  CHECK(back.created_at == m.created_at);
  CHECK_THROWS_AS(Json::array().get<Message>(), BadInput);
  CHECK_THROWS_AS(Json({{"seq", "seven"}}).get<Message>(), BadInput);
}

TEST_CASE("times: RFC 3339 with fractions and offsets; garbage is rejected") {
  auto t = parse_time("2026-11-26T11:02:31Z");
  CHECK(format_time(t) == "2026-11-26T11:02:31.000000Z");
  CHECK(parse_time("2026-11-26 12:02:31.5+01:00") == parse_time("2026-11-26T11:02:31.500000Z"));
  CHECK(parse_time("2026-11-26T11:02:31") == t);
  CHECK(format_time(parse_time("1969-12-31T23:59:59.999999Z")) == "1969-12-31T23:59:59.999999Z");
  CHECK_THROWS_AS(parse_time("yesterday"), BadInput);
  CHECK_THROWS_AS(parse_time("2026-11-26T11:02:31.Z"), BadInput);
  CHECK_THROWS_AS(parse_time("2026-11-26T11:02:31 garbage"), BadInput);
}

TEST_CASE("parse_json names what was malformed") {
  CHECK(parse_json("{\"a\":1}", "payload")["a"] == 1);
  try {
    parse_json("{\"a\":", "the payload");
    FAIL("expected BadInput");
  } catch (const BadInput& e) {
    CHECK(std::string(e.what()).find("the payload") != std::string::npos);
  }
}

TEST_CASE("validation rules for stream ids, types and ids") {
  CHECK_NOTHROW(validate_stream_id("cart-42"));
  CHECK_NOTHROW(validate_stream_id("x'); DROP TABLE messages; --"));
  CHECK_THROWS_AS(validate_stream_id(""), BadInput);
  CHECK_THROWS_AS(validate_stream_id(std::string(201, 'x')), BadInput);
  CHECK_THROWS_AS(validate_stream_id("line\nbreak"), BadInput);
  CHECK_NOTHROW(validate_type("carts.item_added"));
  CHECK_NOTHROW(validate_type("OrderCreated"));
  CHECK_THROWS_AS(validate_type(""), BadInput);
  CHECK_THROWS_AS(validate_type("a b"), BadInput);
  CHECK_THROWS_AS(validate_uuid("123", "id"), BadInput);
  CHECK_NOTHROW(validate_uuid("123e4567-e89b-12d3-a456-426614174000", "id"));
  try {
    validate_stream_id("tab\there");
    FAIL("expected BadInput");
  } catch (const BadInput& e) {
    CHECK(std::string(e.what()).find("\\x09") != std::string::npos);
  }
}

TEST_CASE("stream_hash is stable (the feed's slices depend on it across processes and versions)") {
  CHECK(stream_hash("") == 2166136261u);
  CHECK(stream_hash("cart-42") == stream_hash("cart-42"));
  CHECK(stream_hash("a") == 0xe40c292cu);
}

TEST_CASE("feed cursors print and parse") {
  FeedCursor c{745, 12};
  CHECK(c.str() == "745:12");
  CHECK(FeedCursor::parse("745:12") == c);
  CHECK(FeedCursor{1, 5} < FeedCursor{2, 1});
  CHECK_THROWS_AS(FeedCursor::parse(":"), BadInput);
  CHECK_THROWS_AS(FeedCursor::parse("1:-2"), BadInput);
}

TEST_CASE("error kinds map to the CLI's exit codes") {
  CHECK(exit_code(ErrorKind::bad_input) == 2);
  CHECK(exit_code(ErrorKind::conflict) == 3);
  CHECK(exit_code(ErrorKind::rejected) == 4);
  CHECK(exit_code(ErrorKind::store) == 1);
}

namespace {
struct Part {
  int quantity = 0;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Part, quantity)
struct Strict {
  int count = 0;
  unsigned flags = 0;
  long cents = 0;
  double ratio = 0;
  bool urgent = false;
  std::vector<int> ids;
  std::optional<int> limit;
  Part part;
};
}  // namespace
CAIRN_MESSAGE(Strict, "test.strict", 1, count, flags, cents, ratio, urgent, ids, limit, part)

TEST_CASE("typed payloads refuse numbers and booleans that would not survive decoding, naming the field") {
  Json good = {{"count", 3},     {"flags", 7},       {"cents", 1099511627781},       {"ratio", 2},
               {"urgent", true}, {"ids", {1, 2.0}},  {"part", {{"quantity", 4}, {"note", "x"}}}};
  auto decoded = from_payload<Strict>(good);
  CHECK(decoded.cents == 1099511627781);
  CHECK(decoded.ids == std::vector<int>{1, 2});
  CHECK(decoded.ratio == 2.0);
  CHECK_FALSE(decoded.limit.has_value());
  auto refused = [&](const char* field, Json value) {
    Json payload = good;
    payload[field] = std::move(value);
    try {
      from_payload<Strict>(payload);
    } catch (const BadInput& e) {
      return std::string(e.what()).find(std::string("field '") + field + "'") != std::string::npos;
    }
    return false;
  };
  CHECK(refused("count", 10.7));
  CHECK(refused("count", true));
  CHECK(refused("count", 1099511627781));  // would wrap to 5
  CHECK(refused("flags", -1));             // would wrap to 4294967295
  CHECK(refused("cents", 0.5));
  CHECK(refused("urgent", 1));
  CHECK(refused("ids", {1, 1.5}));
  CHECK(refused("ids", {true}));
  CHECK(refused("limit", 2.5));
  CHECK(refused("part", {{"quantity", 2.5}}));
  CHECK(refused("count", "3"));
  CHECK_FALSE(refused("ratio", 2.5));
}
