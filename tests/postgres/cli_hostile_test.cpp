// Hostile command lines for `cairn` and `cairn-worker` against a real PostgreSQL: each is refused
// with its exit code and a one-line reason naming the argument or field, and nothing is written.
#include <doctest/doctest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include <cairn/message.hpp>
#include <cairn/validation.hpp>
#include "tests/support/process.hpp"
#include "tests/support/test_database.hpp"

using cairn::Json;
using cairn::testing::ProcessResult;
using cairn::testing::query_number;
using cairn::testing::run_process;

namespace {

constexpr size_t mib = 1 << 20;

// Everything a command could have written.
std::vector<long> database_contents(const std::string& url) {
  std::vector<long> counts;
  for (const char* table : {"messages", "streams", "snapshots", "scheduled_messages", "consumer_groups",
                            "group_slices", "group_streams", "projections"})
    counts.push_back(query_number(url, std::string("SELECT count(*) FROM cairn.") + table));
  counts.push_back(query_number(url, "SELECT coalesce(max(position), 0) FROM cairn.messages"));
  return counts;
}

// A payload file of exactly `bytes` bytes: {"pad":"xxx..."}.
std::string padded_object(size_t bytes) {
  const std::string head = R"({"pad":")", tail = "\"}";
  return head + std::string(bytes - head.size() - tail.size(), 'x') + tail;
}

struct ScratchDir {
  std::string path;
  ScratchDir() {
    char dir[] = "/tmp/cairn-hostile-XXXXXX";
    path = mkdtemp(dir);
  }
  ~ScratchDir() { std::filesystem::remove_all(path); }
  std::string write(const std::string& name, const std::string& text) const {
    std::ofstream(path + "/" + name, std::ios::binary) << text;
    return path + "/" + name;
  }
};

// `program args...` with stdin from `stdin_file` (run_process gives /dev/null).
ProcessResult run_with_stdin(const std::string& program, std::vector<std::string> args, const std::string& stdin_file) {
  args.insert(args.begin(), {"-c", "exec \"$0\" \"$@\" < " + cairn::testing::shell_quote(stdin_file), program});
  return run_process("/bin/sh", args);
}

struct Row {
  std::vector<std::string> args;
  int exit_code;
  std::string reason;  // part of the one line on stderr
};

}  // namespace

TEST_CASE("hostile command lines: exit 2 with a one-line reason naming the culprit, and nothing written") {
  cairn::testing::TestDatabase db;
  ScratchDir dir;
  const std::string app = CAIRN_COUNTER_MODULE;
  auto seeded = run_process(CAIRN_CLI_PATH, {"--db", db.url(), "append", "seed-1", "seed.planted", R"({"n":1})"});
  REQUIRE(seeded.exit_code == 0);
  const auto before = database_contents(db.url());

  const std::string over_limit = dir.write("over.json", padded_object(mib + 1));
  const std::string deep = dir.write("deep.json", "{\"a\":" + std::string(100000, '[') + std::string(100000, ']') + "}");
  const std::string missing = dir.path + "/missing.json";
  const std::string long_id(201, 's'), long_type(201, 't'), long_trace(201, 'r');
  const std::string deep_argument = "{\"a\":" + std::string(100000, '[');  // argv holds 128 KiB: unclosed

  const std::vector<Row> cli = {
      // JSON numbers out of range, and integers that would silently become doubles
      {{"append", "h-1", "t.x", R"({"a":1e400})"}, 2, "the payload: the number 1e400 at /a is out of range"},
      {{"append", "h-1", "t.x", R"({"a":{"b":[-1e400]}})"}, 2, "the number -1e400 at /a/b/0 is out of range"},
      {{"append", "h-1", "t.x", R"({"a":18446744073709551616})"}, 2, "integer 18446744073709551616 at /a does not fit"},
      {{"append", "h-1", "t.x", R"({"a":-9223372036854775809})"}, 2, "integer -9223372036854775809 at /a does not fit"},
      {{"append", "h-1", "t.x", R"({"a":1e-400})"}, 2, "the number 1e-400 at /a is too small"},
      {{"handle", "--app", app, "counter-1", "counter.increment", R"({"by":1e400})"}, 2, "the number 1e400 at /by"},
      {{"append", "h-1", "t.x", "{}", "--metadata", R"({"m":1e999})"}, 2, "--metadata: the number 1e999 at /m"},
      // nesting: 100,000 levels in argv, and balanced from a file; refused at level 65
      {{"append", "h-1", "t.x", deep_argument}, 2, "the payload: JSON nested deeper than 64 levels at /a/0/0/0"},
      {{"append", "h-1", "t.x", "@" + deep}, 2, "JSON nested deeper than 64 levels"},
      {{"handle", "--app", app, "counter-1", "counter.increment", "@" + deep}, 2, "nested deeper than 64 levels"},
      // stream ids
      {{"append", "h-\xff", "t.x", "{}"}, 2, "stream id 'h-\\xff' is not valid UTF-8"},
      {{"append", "h-\xc3", "t.x", "{}"}, 2, "is not valid UTF-8"},
      {{"append", "h-\xed\xa0\x80", "t.x", "{}"}, 2, "is not valid UTF-8"},  // a UTF-16 surrogate
      {{"append", "h\n1", "t.x", "{}"}, 2, "stream id 'h\\x0a1' contains a control character"},
      {{"append", "h\x1b[2J", "t.x", "{}"}, 2, "contains a control character"},
      {{"append", long_id, "t.x", "{}"}, 2, "is 201 bytes; the limit is 200"},
      {{"append", "", "t.x", "{}"}, 2, "stream id must not be empty"},
      {{"read", "h-\xff"}, 2, "stream id 'h-\\xff' is not valid UTF-8"},
      {{"state", "--app", app, "counter-\xff"}, 2, "stream id"},
      {{"handle", "--app", app, "counter-\xfe", "counter.increment", "{}"}, 2, "is not valid UTF-8"},
      {{"dispatch", "--app", app, "counter-\x01", "counter.increment", "{}"}, 2, "contains a control character"},
      {{"resume", "counter.totals", "--stream", "h-\xff"}, 2, "stream id"},
      {{"skip", "counter.totals", "--stream", ""}, 2, "stream id must not be empty"},
      // types and group names
      {{"append", "h-1", "bad type", "{}"}, 2, "message type 'bad type' may only use"},
      {{"append", "h-1", long_type, "{}"}, 2, "is longer than 200 bytes"},
      {{"append", "h-1", "t.\xc3\xa9", "{}"}, 2, "may only use letters"},
      {{"append", "h-1", "", "{}"}, 2, "message type must not be empty"},
      {{"stop", "bad group"}, 2, "consumer group 'bad group' may only use"},
      {{"projection", "g\xff"}, 2, "consumer group"},
      {{"projection", "counter.totals", "k\xff"}, 2, "projection key"},
      // JSON that is not a JSON object, or not JSON
      {{"append", "h-1", "t.x", R"({"a":)"}, 2, "malformed JSON in the payload"},
      {{"append", "h-1", "t.x", "{'a':1}"}, 2, "malformed JSON in the payload"},
      {{"append", "h-1", "t.x", "[1,2]"}, 2, "payload must be a JSON object"},
      {{"append", "h-1", "t.x", "\"text\""}, 2, "payload must be a JSON object"},
      {{"append", "h-1", "t.x", R"({"a":"\u0000"})"}, 2, "\\u0000 (string at /a)"},
      {{"append", "h-1", "t.x", "{\"a\":\"\xff\"}"}, 2, "malformed JSON in the payload"},
      {{"append", "h-1", "t.x", "{}", "--metadata", "[1]"}, 2, "metadata must be a JSON object"},
      {{"append", "h-1", "t.x", "-"}, 2, "malformed JSON in the payload"},  // stdin is empty
      // reserved metadata and trace ids
      {{"append", "h-1", "t.x", "{}", "--metadata", R"({"dispatched":true})"}, 2, "'dispatched' is reserved"},
      {{"handle", "--app", app, "counter-1", "counter.increment", "{}", "--metadata", R"({"causation_id":"x"})"},
       2,
       "'causation_id' is reserved"},
      {{"append", "h-1", "t.x", "{}", "--metadata", R"({"correlation_id":"x"})"}, 2, "'correlation_id' is reserved"},
      {{"append", "h-1", "t.x", "{}", "--correlation-id", long_trace}, 2, "is 201 bytes; the limit is 200"},
      {{"dispatch", "--app", app, "counter-1", "counter.increment", "{}", "--correlation-id", "a\tb"},
       2,
       "--correlation-id 'a\\x09b' contains a control character"},
      {{"append", "h-1", "t.x", "{}", "--correlation-id", "\xff"}, 2, "--correlation-id '\\xff' is not valid UTF-8"},
      {{"trace", "\xff\xfe"}, 2, "id '\\xff\\xfe' is not valid UTF-8"},
      // integers: decimal, in range, never negative where they count
      {{"append", "h-1", "t.x", "{}", "--expected-seq", "-1"}, 2, "--expected-seq: expected a decimal integer"},
      {{"append", "h-1", "t.x", "{}", "--expected-seq", "010"}, 2, "got '010'"},
      {{"append", "h-1", "t.x", "{}", "--expected-seq", "0x10"}, 2, "got '0x10'"},
      {{"append", "h-1", "t.x", "{}", "--expected-seq", "9223372036854775808"}, 2, "--expected-seq: 9223372036854775808 is out of range"},
      {{"append", "h-1", "t.x", "{}", "--expected-seq", " 1"}, 2, "--expected-seq"},
      {{"feed", "--limit", "0"}, 2, "--limit: 0 is out of range: expected a decimal integer from 1 to 100000"},
      {{"feed", "--limit", "99999999999999999999"}, 2, "--limit: 99999999999999999999 is out of range"},
      {{"streams", "--limit", "-5"}, 2, "--limit: expected a decimal integer"},
      {{"streams", "--limit", "0"}, 2, "--limit"},
      {{"trace", "x", "--limit", "1e3"}, 2, "--limit: expected a decimal integer"},
      {{"read", "h-1", "--after", "-1"}, 2, "--after"},
      {{"read", "h-1", "--upto", "-1"}, 2, "--upto"},
      {{"state", "--app", app, "counter-1", "--upto-seq", "-1"}, 2, "--upto-seq"},
      {{"projection", "counter.totals", "--limit", "10001"}, 2, "--limit"},
      // times: strict RFC 3339
      {{"state", "--app", app, "counter-1", "--upto-time", "2026-02-30T00:00:00Z"}, 2, "day 30 does not exist in 2026-02"},
      {{"state", "--app", app, "counter-1", "--upto-time", "2026-13-01T00:00:00Z"}, 2, "the month 13"},
      {{"state", "--app", app, "counter-1", "--upto-time", "2026-01-01T00:00:00Z junk"}, 2, "after the time zone"},
      {{"state", "--app", app, "counter-1", "--upto-time", "2026-01-01T24:00:00Z"}, 2, "the hour 24"},
      {{"state", "--app", app, "counter-1", "--upto-time", "2026-01-01T00:00:60Z"}, 2, "the second 60"},
      {{"state", "--app", app, "counter-1", "--upto-time", "2026-01-01T00:00:00"}, 2, "the time zone is missing"},
      {{"dispatch", "--app", app, "counter-1", "counter.increment", "{}", "--at", "2026-02-29T09:00:00Z"}, 2, "day 29"},
      {{"dispatch", "--app", app, "counter-1", "counter.increment", "{}", "--at", "2026-12-01T09:00:00+25:00"},
       2,
       "offset's hours 25"},
      {{"dispatch", "--app", app, "counter-1", "counter.increment", "{}", "--at", ""}, 2, "invalid time ''"},
      // payload files
      {{"append", "h-1", "t.x", "@" + over_limit}, 2, "is 1048577 bytes; the limit is 1048576"},
      {{"handle", "--app", app, "counter-1", "counter.increment", "@" + over_limit}, 2, "is 1048577 bytes"},
      {{"append", "h-1", "t.x", "{}", "--metadata", "@" + over_limit}, 2, "--metadata from @"},
      {{"append", "h-1", "t.x", "@" + missing}, 2, "cannot open the payload from @" + missing + ": No such file"},
      {{"append", "h-1", "t.x", "@" + dir.path}, 2, "it is a directory"},
      {{"append", "h-1", "t.x", "@/dev/zero"}, 2, "from @/dev/zero is more than 1048576 bytes"},
      // usage
      {{"append", "h-1", "t.x", "{}", "--nope"}, 2, "--nope"},
      {{"bogus"}, 2, "subcommand"},
      {{"append", "h-1"}, 2, "type is required"},
  };
  for (const auto& row : cli) {
    auto args = row.args;
    args.insert(args.begin(), {"--db", db.url()});
    auto result = run_process(CAIRN_CLI_PATH, args);
    CAPTURE(cairn::printable(row.args.size() > 3 ? row.args[3] : row.args.back(), 100));
    CAPTURE(result.err);
    CHECK(result.exit_code == row.exit_code);
    CHECK(result.err.find(row.reason) != std::string::npos);
    CHECK(std::count(result.err.begin(), result.err.end(), '\n') == 1);
    CHECK(result.out.empty());
  }

  // The worker refuses a bad flag at once, before connecting (`timeout` ends one that would run).
  const std::vector<Row> worker = {
      {{"--batch", "0"}, 2, "--batch: 0 is out of range: expected a decimal integer from 1 to 10000"},
      {{"--batch", "-1"}, 2, "--batch: expected a decimal integer"},
      {{"--batch", "010"}, 2, "--batch"},
      {{"--poll-ms", "0"}, 2, "--poll-ms: 0 is out of range"},
      {{"--poll-ms", "99999999999999999999"}, 2, "--poll-ms"},
      {{"--stream-handlers", "0"}, 2, "--stream-handlers: 0 is out of range"},
      {{"--stream-handlers", "100000"}, 2, "--stream-handlers: 100000 is out of range: expected a decimal integer from 1 to 256"},
      {{"--workers", "4"}, 2, "--workers"},  // its old name: a worker is a process, not a stream handler
      {{"--max-attempts", "0"}, 2, "--max-attempts"},
      {{"--max-attempts", "-5"}, 2, "--max-attempts"},
      {{"--groups", "bad group"}, 2, "consumer group 'bad group'"},
      {{"--nope"}, 2, "--nope"},
  };
  for (const auto& row : worker) {
    std::vector<std::string> args = {"10", CAIRN_WORKER_PATH, "--app", app, "--db", db.url()};
    args.insert(args.end(), row.args.begin(), row.args.end());
    auto result = run_process("timeout", args);
    CAPTURE(row.args[0]);
    CAPTURE(result.err);
    CHECK(result.exit_code == row.exit_code);
    CHECK(result.err.find(row.reason) != std::string::npos);
    CHECK(std::count(result.err.begin(), result.err.end(), '\n') == 1);
  }
  CHECK(cli.size() + worker.size() >= 40);
  CHECK(database_contents(db.url()) == before);
}

TEST_CASE("payloads from a file or stdin, up to 1 MiB: just under is appended, just over is refused") {
  cairn::testing::TestDatabase db;
  ScratchDir dir;
  auto cairn = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {"--db", db.url()});
    return run_process(CAIRN_CLI_PATH, args);
  };
  // Payload and metadata together count against the limit: leave the metadata room.
  const std::string under = dir.write("under.json", padded_object(mib - 1024));
  const std::string over = dir.write("over.json", padded_object(mib + 1));
  auto appended = cairn({"append", "big-1", "t.big", "@" + under, "--metadata", R"({"user":"ann"})"});
  REQUIRE(appended.exit_code == 0);
  auto stored = Json::parse(appended.out);
  CHECK(stored["payload"]["pad"].get<std::string>().size() == mib - 1024 - 10);
  CHECK(stored["metadata"]["user"] == "ann");

  auto refused = cairn({"append", "big-1", "t.big", "@" + over});
  CHECK(refused.exit_code == 2);
  CHECK(refused.err.find("the payload from @" + over + " is 1048577 bytes; the limit is 1048576") != std::string::npos);
  // Within the file limit, but not with the metadata: the store's own check, still exit 2.
  const std::string at_limit = dir.write("at_limit.json", padded_object(mib));
  auto too_much = cairn({"append", "big-1", "t.big", "@" + at_limit});
  CHECK(too_much.exit_code == 2);
  CHECK(too_much.err.find("payload and metadata are") != std::string::npos);

  // stdin: a payload, metadata, a stream that never ends, 100,000 levels of nesting.
  auto piped = run_with_stdin(CAIRN_CLI_PATH, {"--db", db.url(), "append", "big-1", "t.piped", "-"}, under);
  CHECK(piped.exit_code == 0);
  const std::string metadata = dir.write("metadata.json", R"({"source":"stdin"})");
  auto piped_metadata = run_with_stdin(
      CAIRN_CLI_PATH, {"--db", db.url(), "append", "big-1", "t.piped", R"({"n":1})", "--metadata", "-"}, metadata);
  REQUIRE(piped_metadata.exit_code == 0);
  CHECK(Json::parse(piped_metadata.out)["metadata"]["source"] == "stdin");
  auto twice = run_with_stdin(CAIRN_CLI_PATH, {"--db", db.url(), "append", "big-1", "t.piped", "-", "--metadata", "-"},
                              metadata);
  CHECK(twice.exit_code == 2);
  CHECK(twice.err.find("--metadata: stdin was already read") != std::string::npos);
  auto endless = run_with_stdin(CAIRN_CLI_PATH, {"--db", db.url(), "append", "big-1", "t.piped", "-"}, "/dev/zero");
  CHECK(endless.exit_code == 2);
  CHECK(endless.err.find("the payload from stdin is more than 1048576 bytes; the limit is 1048576") != std::string::npos);
  const std::string deep = dir.write("deep.json", std::string(100000, '[') + std::string(100000, ']'));
  auto nested = run_with_stdin(CAIRN_CLI_PATH, {"--db", db.url(), "append", "big-1", "t.piped", "-"}, deep);
  CHECK(nested.exit_code == 2);  // not 139: no stack overflow
  CHECK(nested.err.find("JSON nested deeper than 64 levels") != std::string::npos);
  auto handled = run_with_stdin(CAIRN_CLI_PATH,
                                {"--db", db.url(), "handle", "--app", CAIRN_COUNTER_MODULE, "counter-p",
                                 "counter.increment", "-"},
                                dir.write("by.json", R"({"by":2})"));
  CHECK(handled.exit_code == 0);
  auto dispatched = run_process(CAIRN_CLI_PATH, {"--db", db.url(), "dispatch", "--app", CAIRN_COUNTER_MODULE,
                                                 "counter-p", "counter.increment", "@" + dir.path + "/by.json"});
  CHECK(dispatched.exit_code == 0);
  CHECK(query_number(db.url(), "SELECT count(*) FROM cairn.messages WHERE stream_id = 'big-1'") == 3);
  CHECK(query_number(db.url(), "SELECT count(*) FROM cairn.messages WHERE stream_id = 'counter-p'") == 3);
}
