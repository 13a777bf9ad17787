// Unit tests: the message envelope, its JSON codec, time formats and validation rules.
#include <doctest/doctest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <optional>
#include <set>
#include <thread>
#include <vector>

#include <cairn/store.hpp>
#include <cairn/errors.hpp>
#include <cairn/message.hpp>
#include <cairn/message_type.hpp>
#include <cairn/validation.hpp>

using namespace cairn;

TEST_CASE("make_message assigns a uuid and defaults the correlation id to itself") {
  auto m = make_message("cart-1", "carts.item_added", {{"sku", "A"}});
  CHECK_NOTHROW(validate_uuid(m.id, "id"));
  CHECK(m.metadata["correlation_id"] == m.id);
  auto kept = make_message("cart-1", "carts.item_added", {}, {{"correlation_id", "c-1"}});
  CHECK(kept.metadata["correlation_id"] == "c-1");
  CHECK(make_message("a", "b", {}).id != make_message("a", "b", {}).id);
}

TEST_CASE("new_uuid gives time-ordered (version 7) uuids, distinct across threads' pools and in a forked child") {
  auto millis = [] {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
  };
  std::set<std::string> seen;
  std::string previous;
  auto before = millis();
  for (int i = 0; i < 2000; ++i) {  // several pools' worth: ids from refilled pools too
    auto id = new_uuid();
    CHECK_NOTHROW(validate_uuid(id, "id"));
    REQUIRE(id.size() == 36);
    CHECK(id[14] == '7');
    CHECK(std::string("89ab").find(id[19]) != std::string::npos);
    CHECK(seen.insert(id).second);
    CHECK(id > previous);  // strictly increasing within a thread, so the id index grows at its right edge
    previous = id;
  }
  // The first 48 bits are the Unix time in milliseconds at which the id was made.
  auto stamped = std::stoll((previous.substr(0, 8) + previous.substr(9, 4)), nullptr, 16);
  CHECK(stamped >= before);
  CHECK(stamped <= millis());
  std::string other;
  std::thread([&] { other = new_uuid(); }).join();
  CHECK(seen.insert(other).second);
  // A child forked with part of this thread's pool left must not hand out the parent's next ids.
  int pipe_ends[2];
  REQUIRE(pipe(pipe_ends) == 0);
  pid_t child = fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    auto id = new_uuid();
    _exit(write(pipe_ends[1], id.data(), id.size()) == 36 ? 0 : 1);
  }
  char text[36];
  REQUIRE(read(pipe_ends[0], text, sizeof text) == 36);
  int status = 0;
  waitpid(child, &status, 0);
  close(pipe_ends[0]);
  close(pipe_ends[1]);
  CHECK(std::string(text, 36) != new_uuid());
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
  CHECK(parse_time("2026-11-26t11:02:31z") == t);
  CHECK(parse_time("2026-11-26T09:32:31-01:30") == t);
  CHECK(parse_time("2026-11-26T11:02:31.1234569Z") == parse_time("2026-11-26T11:02:31.123456Z"));
  CHECK(format_time(parse_time("1969-12-31T23:59:59.999999Z")) == "1969-12-31T23:59:59.999999Z");
  CHECK(format_time(parse_time("2024-02-29T00:00:00Z")) == "2024-02-29T00:00:00.000000Z");
  CHECK(format_time(parse_time("2000-02-29T23:59:59Z")) == "2000-02-29T23:59:59.000000Z");
  CHECK(format_time(parse_time("0001-01-01T00:00:00Z")) == "0001-01-01T00:00:00.000000Z");
  CHECK(format_time(parse_time("9999-12-31T23:59:59Z")) == "9999-12-31T23:59:59.000000Z");
  CHECK(parse_time("2026-11-26T23:30:00-23:59") == parse_time("2026-11-27T23:29:00Z"));
  auto refused = [](const char* text, const char* reason) {
    try {
      parse_time(text);
    } catch (const BadInput& e) {
      bool named = std::string(e.what()).find(reason) != std::string::npos;
      if (!named) MESSAGE(text << ": " << e.what());
      return named;
    }
    MESSAGE(text << " was accepted");
    return false;
  };
  CHECK(refused("yesterday", "year"));
  CHECK(refused("2026-11-26T11:02:31.Z", "fraction"));
  CHECK(refused("2026-11-26T11:02:31 garbage", "expected 'Z'"));
  CHECK(refused("2026-11-26T11:02:31Z junk", "after the time zone"));
  CHECK(refused("2026-11-26T11:02:31+01:00x", "after the time zone"));
  CHECK(refused("2026-11-26T11:02:31", "time zone is missing"));  // local time is ambiguous
  CHECK(refused("2026-02-30T00:00:00Z", "day 30 does not exist in 2026-02"));  // not March 2
  CHECK(refused("2025-02-29T00:00:00Z", "day 29"));
  CHECK(refused("2100-02-29T00:00:00Z", "day 29"));
  CHECK(refused("2026-04-31T00:00:00Z", "day 31"));
  CHECK(refused("2026-13-01T00:00:00Z", "month 13"));
  CHECK(refused("2026-00-10T00:00:00Z", "month 0"));
  CHECK(refused("2026-01-00T00:00:00Z", "day 0"));
  CHECK(refused("2026-01-32T00:00:00Z", "day 32"));
  CHECK(refused("2026-11-26T24:00:00Z", "hour 24"));
  CHECK(refused("2026-11-26T99:00:00Z", "hour 99"));
  CHECK(refused("2026-11-26T11:60:00Z", "minute 60"));
  CHECK(refused("2026-12-31T23:59:60Z", "second 60"));  // leap seconds: none in POSIX time
  CHECK(refused("2026-11-26T11:02:31+24:00", "offset's hours 24"));
  CHECK(refused("2026-11-26T11:02:31+01:60", "offset's minutes 60"));
  CHECK(refused("2026-11-26T11:02:31+0100", "':' in the offset"));
  CHECK(refused("2026-11-26T11:02:31+01", "':' in the offset"));
  CHECK(refused("2026-1-26T11:02:31Z", "month must be 2 digits"));
  CHECK(refused("26-11-26T11:02:31Z", "year must be 4 digits"));
  CHECK(refused("+2026-11-26T11:02:31Z", "year"));
  CHECK(refused("2026-11-26T11:02Z", "':' after the minute"));
  CHECK(refused("2026-11-26", "'T' or a space"));
  CHECK(refused("", "year"));
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

namespace {
// The reason parse_json gives for `text`, or "accepted".
std::string json_refusal(const std::string& text, const Limits& limits = {}) {
  try {
    parse_json(text, "the payload", limits);
    return "accepted";
  } catch (const BadInput& e) {
    return e.what();
  }
}
bool contains(const std::string& text, const std::string& part) {
  if (text.find(part) != std::string::npos) return true;
  MESSAGE("'" << text << "' does not contain '" << part << "'");
  return false;
}
}  // namespace

TEST_CASE("parse_json refuses numbers that do not fit, naming where they are") {
  CHECK(contains(json_refusal(R"({"a":1e400})"), "the number 1e400 at /a is out of range"));
  CHECK(contains(json_refusal(R"({"a":{"b":[0,-1e400]}})"), "the number -1e400 at /a/b/1 is out of range"));
  CHECK(contains(json_refusal(R"({"a":18446744073709551616})"), "the integer 18446744073709551616 at /a does not fit"));
  CHECK(contains(json_refusal(R"({"a":-9223372036854775809})"), "the integer -9223372036854775809 at /a"));
  CHECK(contains(json_refusal(R"({"a":1e-400})"), "the number 1e-400 at /a is too small"));
  CHECK(contains(json_refusal(R"({"a/b~c":1e400})"), "at /a~1b~0c"));
  CHECK(contains(json_refusal("1e400"), "the number 1e400 is out of range"));
  auto edges = parse_json(R"({"max":18446744073709551615,"min":-9223372036854775808,"zero":0.0e-400,"tiny":5e-324,"big":1.7e308})",
                          "edges");
  CHECK(edges["max"].get<uint64_t>() == UINT64_MAX);
  CHECK(edges["min"].get<int64_t>() == INT64_MIN);
  CHECK(edges["zero"].get<double>() == 0.0);
  CHECK(edges["tiny"].get<double>() > 0.0);
  CHECK(edges["big"].get<double>() == 1.7e308);
}

TEST_CASE("parse_json bounds nesting while it parses, without recursion") {
  Limits limits;
  CHECK(limits.max_json_depth == 64);
  auto nested = [](size_t depth) { return std::string(depth, '[') + std::string(depth, ']'); };
  CHECK(parse_json(nested(64), "deep").is_array());
  CHECK(contains(json_refusal(nested(65)), "JSON nested deeper than 64 levels at /0/0/"));
  CHECK(contains(json_refusal(std::string(100000, '[')), "nested deeper than 64 levels"));
  CHECK(contains(json_refusal(nested(1000000)), "nested deeper than 64 levels"));
  CHECK(contains(json_refusal(R"({"a":{"b":[{}, {"c":[[]]}]}})", {200, 200, 1 << 20, 200, 4}), "deeper than 4 levels at /a/b/1/c"));
}

TEST_CASE("validate_json walks a value built in C++: depth, \\u0000, UTF-8 of strings and keys, finite numbers") {
  auto reason = [](const Json& j) -> std::string {
    try {
      validate_json(j, "payload");
      return "accepted";
    } catch (const BadInput& e) {
      return e.what();
    }
  };
  CHECK(reason({{"ok", {1, "two", {{"three", 3.5}}}}}) == "accepted");
  CHECK(contains(reason({{"a", {1, std::string("b\xff")}}}), "string 'b\\xff' at /a/1 is not valid UTF-8"));
  CHECK(contains(reason({{"a", {{std::string("k\xc3"), 1}}}}), "key 'k\\xc3' at /a/k\\xc3 is not valid UTF-8"));
  CHECK(contains(reason({{"a", std::string("x\0y", 3)}}), "\\u0000 (string at /a)"));
  CHECK(contains(reason({{"n", std::nan("")}}), "the number at /n is not finite"));
  CHECK(contains(reason({{"n", 1e308 * 10}}), "not finite"));
  // 100,000 levels built without recursion: refused at level 65, and nothing recursed on the way.
  Json deep = Json::object();
  Json* at = &deep;
  for (int i = 0; i < 100000; ++i) at = &((*at)["d"] = Json::object());
  CHECK(contains(reason(deep), "nested deeper than 64 levels at /d/d/"));
  auto m = make_message("cart-1", "t.x", Json::object());
  m.payload["s"] = std::string("\xed\xa0\x80");  // a surrogate
  CHECK_THROWS_AS(validate_message(m), BadInput);
  m.payload = std::move(deep);
  CHECK_THROWS_AS(validate_message(m), BadInput);
}

TEST_CASE("validation rules for stream ids, types and ids") {
  CHECK_NOTHROW(validate_stream_id("cart-42"));
  CHECK_NOTHROW(validate_stream_id("x'); DROP TABLE messages; --"));
  CHECK_THROWS_AS(validate_stream_id(""), BadInput);
  CHECK_THROWS_AS(validate_stream_id(std::string(201, 'x')), BadInput);
  CHECK_THROWS_AS(validate_stream_id("line\nbreak"), BadInput);
  CHECK_THROWS_AS(validate_stream_id("cart-\xff"), BadInput);
  CHECK_THROWS_AS(validate_stream_id("cart-\xc3"), BadInput);         // truncated
  CHECK_THROWS_AS(validate_stream_id("cart-\xc0\xaf"), BadInput);     // overlong '/'
  CHECK_NOTHROW(validate_stream_id("panier-\xc3\xa9t\xc3\xa9"));
  CHECK_THROWS_WITH_AS(validate_type("a b", {}, "consumer group"),
                       "consumer group 'a b' may only use letters, digits and . _ - : /", BadInput);
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
