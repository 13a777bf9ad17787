// The `cairn` CLI against a real PostgreSQL: output formats, cursors, trails and exit codes.
#include <doctest/doctest.h>

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <thread>

#include "backends/postgres/postgres_store.hpp"
#include <cairn/message.hpp>
#include "tests/support/child_process.hpp"
#include "tests/support/eventually.hpp"
#include "tests/support/process.hpp"
#include "tests/support/test_database.hpp"

using cairn::Json;
using cairn::testing::ProcessResult;
using cairn::testing::run_process;

namespace {

std::vector<Json> json_lines(const std::string& text) {
  std::vector<Json> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) out.push_back(Json::parse(line));
  return out;
}

// Runs `cairn --db <db> args...`.
auto cli_on(const cairn::testing::TestDatabase& db) {
  return [&db](std::vector<std::string> args) {
    args.insert(args.begin(), {"--db", db.url()});
    return run_process(CAIRN_CLI_PATH, args);
  };
}

}  // namespace

TEST_CASE("cairn migrate, append, read, feed and trace") {
  cairn::testing::TestDatabase db(false);
  auto cairn = cli_on(db);

  auto migrated = cairn({"migrate"});
  CHECK(migrated.exit_code == 0);
  CHECK(migrated.out.find("applied 001_event_store.sql") != std::string::npos);
  CHECK(cairn({"migrate"}).out == "schema is up to date\n");
  // A worker never creates tables: without its module's, it refuses to start and says what to run.
  std::string log = "/tmp/cairn-cli-untabled-" + std::to_string(getpid()) + ".log";
  {
    cairn::testing::ChildProcess worker(CAIRN_WORKER_PATH, {"--app", CAIRN_COUNTER_MODULE, "--db", db.url()}, log);
    CHECK(worker.wait(std::chrono::seconds(30)) == 2);
  }
  CHECK(cairn::testing::read_file(log).find("read-model table public.counter_totals does not exist: run `cairn migrate --app MODULE`") !=
        std::string::npos);
  std::remove(log.c_str());
  // With --app, the module's read-model tables too, as the schema owner does before starting workers.
  auto tables = cairn({"migrate", "--app", CAIRN_COUNTER_MODULE});
  CHECK(tables.exit_code == 0);
  CHECK(tables.out == "created table public.counter_totals\ncreated table public.counter_fixes\n");
  CHECK(cairn({"migrate", "--app", CAIRN_COUNTER_MODULE}).out == "schema is up to date\n");

  auto first = cairn({"append", "cart-42", "carts.item_added", R"({"sku":"tea","qty":2})", "--expected-seq", "0"});
  REQUIRE(first.exit_code == 0);
  auto stored = json_lines(first.out);
  REQUIRE(stored.size() == 1);
  CHECK(stored[0]["seq"] == 1);
  CHECK(stored[0]["payload"]["sku"] == "tea");
  CHECK(stored[0]["metadata"]["correlation_id"] == stored[0]["id"]);

  auto conflict = cairn({"append", "cart-42", "carts.item_added", "{}", "--expected-seq", "0"});
  CHECK(conflict.exit_code == 3);
  CHECK(conflict.err.find("expected seq 0, stream is at 1") != std::string::npos);

  auto caused = cairn({"append", "cart-42", "carts.checked_out", "{}", "--metadata", R"({"user":"ann"})",
                       "--correlation-id", stored[0]["id"].get<std::string>()});
  REQUIRE(caused.exit_code == 0);
  CHECK(json_lines(caused.out)[0]["metadata"]["user"] == "ann");

  auto read = cairn({"read", "cart-42", "--json"});
  CHECK(read.exit_code == 0);
  auto lines = json_lines(read.out);
  REQUIRE(lines.size() == 2);
  CHECK(lines[1]["type"] == "carts.checked_out");
  CHECK(json_lines(cairn({"read", "cart-42", "--json", "--after", "1"}).out).size() == 1);
  CHECK(json_lines(cairn({"read", "cart-42", "--json", "--upto", "1"}).out).size() == 1);
  auto table = cairn({"read", "cart-42"});
  CHECK(table.out.find("SEQ") == 0);
  CHECK(table.out.find("carts.checked_out") != std::string::npos);

  std::string hostile = "x'); DROP TABLE messages; --";
  CHECK(cairn({"append", hostile, "test.happened", "{}"}).exit_code == 0);
  CHECK(json_lines(cairn({"read", hostile, "--json"}).out).at(0)["stream_id"] == hostile);

  // The feed shows only what lies below the cluster's xid horizon; a transaction of a test
  // running in parallel (another database, same cluster) may hold it back for a moment.
  std::vector<Json> feed;
  REQUIRE(cairn::testing::eventually([&] {
    feed = json_lines(cairn({"feed", "--limit", "2"}).out);
    return feed.size() == 2;
  }));
  std::vector<Json> rest;
  REQUIRE(cairn::testing::eventually([&] {
    rest = json_lines(cairn({"feed", "--after", feed[1]["cursor"].get<std::string>()}).out);
    return rest.size() == 1;
  }));
  CHECK(rest[0]["stream_id"] == hostile);
  CHECK(json_lines(cairn({"feed", "--type", "carts.checked_out"}).out).size() == 1);

  auto trace = cairn({"trace", stored[0]["id"].get<std::string>()});
  CHECK(trace.exit_code == 0);
  CHECK(trace.out.find("carts.item_added  cart-42#1") == 0);
  CHECK(trace.out.find("\ncarts.checked_out  cart-42#2") != std::string::npos);  // same trace, no cause
  auto cut = cairn({"trace", stored[0]["id"].get<std::string>(), "--limit", "1"});
  CHECK(cut.exit_code == 0);
  CHECK(cut.out == trace.out.substr(0, trace.out.find('\n') + 1));
  CHECK(cut.err.find("more than 1 messages: printed the first 1") != std::string::npos);

  auto streams = cairn({"streams", "--json"});
  CHECK(json_lines(streams.out).size() == 2);
  auto carts = json_lines(cairn({"streams", "--json", "--prefix", "cart-"}).out);
  REQUIRE(carts.size() == 1);
  CHECK(carts[0]["stream_id"] == "cart-42");
  CHECK(json_lines(cairn({"streams", "--json", "--prefix", "nothing-"}).out).empty());
}

TEST_CASE("cairn reports bad input with exit code 2 and the reason") {
  cairn::testing::TestDatabase db;
  auto cairn = cli_on(db);
  ProcessResult r = cairn({"append", "cart-1", "carts.item_added", "{not json"});
  CHECK(r.exit_code == 2);
  CHECK(r.err.find("malformed JSON in the payload") != std::string::npos);
  CHECK(cairn({"append", "cart-1", "carts.item_added", "[1,2]"}).exit_code == 2);
  CHECK(cairn({"append", std::string(201, 'x'), "carts.item_added", "{}"}).exit_code == 2);
  CHECK(cairn({"append", "cart-1", "bad type", "{}"}).exit_code == 2);
  CHECK(cairn({"append", "cart-1", "carts.item_added", "{}", "--metadata", "[]"}).exit_code == 2);
  CHECK(cairn({"append", "cart-1", "carts.item_added", "{}", "--expected-seq", "seven"}).exit_code == 2);
  CHECK(cairn({"feed", "--after", "garbage"}).exit_code == 2);
  CHECK(cairn({"trace", "no-such-thing"}).exit_code == 2);
  CHECK(cairn({"no-such-command"}).exit_code == 2);
  CHECK(run_process(CAIRN_CLI_PATH, {}).exit_code == 2);
  CHECK(run_process(CAIRN_CLI_PATH, {"--help"}).exit_code == 0);
  CHECK(json_lines(cairn({"read", "cart-1", "--json"}).out).empty());

  auto no_db = run_process("/usr/bin/env", {"-u", "CAIRN_DATABASE_URL", CAIRN_CLI_PATH, "read", "cart-1"});
  CHECK(no_db.exit_code == 2);
  CHECK(no_db.err.find("no database") != std::string::npos);
  auto unreachable = run_process(CAIRN_CLI_PATH, {"--db", "postgresql://postgres@127.0.0.1:1/x", "read", "cart-1"});
  CHECK(unreachable.exit_code == 1);
}

TEST_CASE("cairn handle and append refuse Cairn's reserved metadata keys: exit 2, one line naming the key") {
  cairn::testing::TestDatabase db;
  auto cairn = cli_on(db);
  auto twice = cairn({"handle", "--app", CAIRN_COUNTER_MODULE, "counter-m", "counter.increment", R"({"by":100})",
                      "--metadata", R"({"dispatched":true})"});
  CHECK(twice.exit_code == 2);
  CHECK(twice.err.find("'dispatched'") != std::string::npos);
  CHECK(std::count(twice.err.begin(), twice.err.end(), '\n') == 1);
  for (const char* key : {"causation_id", "correlation_id", "dispatched"}) {
    CAPTURE(key);
    auto appended = cairn({"append", "counter-m", "counter.incremented", R"({"by":1})", "--metadata",
                           Json{{key, "6d3f0c1e-0000-4000-8000-000000000000"}}.dump()});
    CHECK(appended.exit_code == 2);
    CHECK(appended.err.find(std::string("'") + key + "'") != std::string::npos);
  }
  CHECK(json_lines(cairn({"read", "counter-m", "--json"}).out).empty());

  auto traced = cairn({"handle", "--app", CAIRN_COUNTER_MODULE, "counter-m", "counter.increment", R"({"by":1})",
                       "--correlation-id", "req-17"});
  REQUIRE(traced.exit_code == 0);
  CHECK(json_lines(traced.out)[0]["metadata"]["correlation_id"] == "req-17");
  CHECK(cairn({"trace", "req-17"}).out.find("counter.increment  counter-m#1") == 0);
  auto queued = cairn({"dispatch", "--app", CAIRN_COUNTER_MODULE, "counter-m", "counter.increment", R"({"by":1})",
                       "--correlation-id", "req-18"});
  REQUIRE(queued.exit_code == 0);
  CHECK(json_lines(cairn({"read", "counter-m", "--json"}).out).back()["metadata"]["correlation_id"] == "req-18");
  auto too_long =
      cairn({"append", "counter-m", "counter.incremented", "{}", "--correlation-id", std::string(201, 'r')});
  CHECK(too_long.exit_code == 2);
  CHECK(too_long.err.find("--correlation-id 'rrr") != std::string::npos);
  CHECK(too_long.err.find("is 201 bytes; the limit is 200") != std::string::npos);
  CHECK(cairn({"dispatch", "--app", CAIRN_COUNTER_MODULE, "counter-m", "counter.increment", "{}",
               "--correlation-id", "a\tb"}).exit_code == 2);
  CHECK(json_lines(cairn({"read", "counter-m", "--json"}).out).size() == 3);
}

TEST_CASE("cairn status lists the scheduled messages that could not be delivered") {
  cairn::testing::TestDatabase db;
  auto cairn = cli_on(db);
  cairn::PostgresStore store(db.url());
  auto taken = cairn::make_message("reminder-a", "test.remind", Json::object());
  store.append("reminder-a", cairn::ExpectedSeq::exactly(0), {taken});
  auto clash = taken;
  clash.stream_id = "reminder-b";
  store.schedule(clash, cairn::now() - std::chrono::seconds(1));
  store.promote_due(cairn::now(), 100);
  auto status = cairn({"status"});
  CHECK(status.exit_code == 0);
  CHECK(status.out.find("undeliverable scheduled messages") != std::string::npos);
  CHECK(status.out.find(taken.id + "  reminder-b  due ") != std::string::npos);
  auto json = cairn({"status", "--json"});
  CHECK(json.err.find("1 scheduled message(s) could not be delivered") != std::string::npos);
}

TEST_CASE("cairn handle and cairn state run a module's actor; exit codes follow the outcome") {
  cairn::testing::TestDatabase db;
  auto cairn = cli_on(db);
  auto handled = cairn({"handle", "--app", CAIRN_COUNTER_MODULE, "counter-9", "counter.increment", R"({"by":4})"});
  REQUIRE(handled.exit_code == 0);
  auto events = json_lines(handled.out);
  REQUIRE(events.size() == 1);
  CHECK(events[0]["type"] == "counter.incremented");
  CHECK(events[0]["seq"] == 2);
  REQUIRE(cairn({"handle", "--app", CAIRN_COUNTER_MODULE, "counter-9", "counter.increment", R"({"by":6})"}).exit_code ==
          0);

  auto rejected = cairn({"handle", "--app", CAIRN_COUNTER_MODULE, "counter-9", "counter.increment", R"({"by":0})"});
  CHECK(rejected.exit_code == 4);
  CHECK(rejected.out.empty());
  CHECK(rejected.err == "cairn: rejected (not_positive): by must be positive, got 0\n");  // one line: code, then text
  auto wrong = cairn({"handle", "--app", CAIRN_COUNTER_MODULE, "counter-9", "counter.increment", R"({"by":"x"})"});
  CHECK(wrong.exit_code == 2);
  CHECK(wrong.err.find("field 'by'") != std::string::npos);
  CHECK(cairn({"handle", "--app", CAIRN_COUNTER_MODULE, "counter-9", "counter.nope", "{}"}).exit_code == 2);
  CHECK(cairn({"handle", "--app", CAIRN_COUNTER_MODULE, "counter-9", "counter.increment", "{"}).exit_code == 2);
  CHECK(cairn({"handle", "--app", "/no/such/module.so", "counter-9", "counter.increment", "{}"}).exit_code == 2);
  CHECK(cairn({"handle", "--app", CAIRN_COUNTER_MODULE, "counter-9", "counter.fail", "{}"}).exit_code == 1);

  auto state = cairn({"state", "--app", CAIRN_COUNTER_MODULE, "counter-9"});
  CHECK(state.exit_code == 0);
  CHECK(Json::parse(state.out) == Json{{"total", 10}, {"count", 2}});
  CHECK(Json::parse(cairn({"state", "--app", CAIRN_COUNTER_MODULE, "counter-9", "--upto-seq", "2"}).out)["total"] == 4);
  CHECK(Json::parse(cairn({"state", "--app", CAIRN_COUNTER_MODULE, "counter-9", "--upto-time", "2001-01-01T00:00:00Z"})
                        .out)["total"] == 0);
  CHECK(cairn({"state", "--app", CAIRN_COUNTER_MODULE, "counter-9", "--upto-time", "soon"}).exit_code == 2);
  CHECK(cairn({"state", "--app", CAIRN_COUNTER_MODULE, "other-1"}).exit_code == 2);
  auto no_app = cairn({"state", "counter-9"});
  CHECK(no_app.exit_code == 2);
  CHECK(no_app.err.find("cairn: state needs --app MODULE: a state is not stored") != std::string::npos);
  CHECK(no_app.err.find("`cairn read counter-9` prints the stored events") != std::string::npos);
}

TEST_CASE("cairn projection prints a projector's views: one key's, or a page in key order; bad arguments exit 2") {
  cairn::testing::TestDatabase db;
  auto cairn = cli_on(db);
  cairn::PostgresStore store(db.url());
  store.ensure_group("loans.members", 1, cairn::StartFrom::beginning());
  store.ensure_group("loans.email", 1, cairn::StartFrom::beginning());
  for (int i = 0; i < 5; ++i)
    store.update_projection("member-" + std::to_string(i), {"loans.members", "loan-" + std::to_string(i), 1}, {},
                            [i](Json) { return Json{{"books", i}}; });

  auto one = cairn({"projection", "loans.members", "member-2"});
  CHECK(one.exit_code == 0);
  CHECK(Json::parse(one.out) == Json{{"books", 2}});
  CHECK(json_lines(cairn({"projection", "loans.members", "member-2", "--json"}).out) ==
        std::vector<Json>{{{"key", "member-2"}, {"state", {{"books", 2}}}}});

  auto first = cairn({"projection", "loans.members", "--limit", "2", "--json"});
  CHECK(first.exit_code == 0);
  auto views = json_lines(first.out);
  REQUIRE(views.size() == 2);
  CHECK(views[0]["key"] == "member-0");
  CHECK(views[1]["key"] == "member-1");
  CHECK(first.err.find("more views follow: --after 'member-1'") != std::string::npos);
  auto rest = cairn({"projection", "loans.members", "--after", "member-1"});
  CHECK(rest.out == "member-2  {\"books\":2}\nmember-3  {\"books\":3}\nmember-4  {\"books\":4}\n");
  CHECK(rest.err.empty());
  auto none = cairn({"projection", "loans.email"});
  CHECK(none.exit_code == 0);
  CHECK(none.err.find("no views in cairn.projections") != std::string::npos);

  auto missing = cairn({"projection", "loans.members", "member-9"});
  CHECK(missing.exit_code == 2);
  CHECK(missing.err.find("no view for key 'member-9'") != std::string::npos);
  CHECK(cairn({"projection", "loans.nope"}).exit_code == 2);
  CHECK(cairn({"projection"}).exit_code == 2);
  CHECK(cairn({"projection", "loans.members", "--limit", "0"}).exit_code == 2);
  CHECK(cairn({"projection", "loans.members", "--limit", "many"}).exit_code == 2);
  CHECK(cairn({"projection", "loans.members", "member-1", "--after", "member-0"}).exit_code == 2);
}

TEST_CASE("cairn status labels each slice, names only live owners and shows the scheduled messages waiting") {
  cairn::testing::TestDatabase db;
  auto cairn = cli_on(db);
  cairn::PostgresStore store(db.url());
  auto due = cairn::now() + std::chrono::hours(1);
  store.schedule(cairn::make_message("counter-later", "counter.increment", {{"by", 1}}), due);
  auto quiet = cairn({"status"});
  CHECK(quiet.out.find("scheduled messages: 1 waiting, next due " + cairn::format_time(due) + "\n") !=
        std::string::npos);

  std::string log = "/tmp/cairn-status-worker-" + std::to_string(getpid()) + ".log";
  auto totals = [&] {
    for (const auto& g : json_lines(cairn({"status", "--json"}).out))
      if (g["group"] == "counter.totals") return g;
    return Json();
  };
  auto owned = [&] {
    auto group = totals();
    if (group.is_null()) return false;
    for (const auto& s : group["slices"])
      if (s["owner"].get<std::string>().empty()) return false;
    return true;
  };
  cairn::testing::migrate_module(db.url(), CAIRN_COUNTER_MODULE);
  {
    cairn::testing::ChildProcess worker(
        CAIRN_WORKER_PATH, {"--app", CAIRN_COUNTER_MODULE, "--db", db.url(), "--poll-ms", "20", "--groups", "counter.totals"},
        log);
    REQUIRE(cairn::testing::eventually(owned, std::chrono::seconds(20)));
    auto table = cairn({"status"}).out;
    CHECK(table.find("    slice 0: cursor ") != std::string::npos);
    CHECK(table.find(", owner ") != std::string::npos);
    CHECK(table.find(", lag 0 events\n") != std::string::npos);
    worker.signal(SIGTERM);
    REQUIRE(worker.wait(std::chrono::seconds(30)) == 0);
  }
  std::remove(log.c_str());
  auto group = totals();
  for (const auto& s : group["slices"]) CHECK(s["owner"] == "");
  CHECK(group["scheduled"] == Json{{"pending", 1}, {"next_due", cairn::format_time(due)}});
  auto table = cairn({"status"}).out;
  CHECK(table.find(", owner ") == std::string::npos);
  CHECK(table.find("    slice 3: cursor ") != std::string::npos);
  CHECK(table.find("no owner") != std::string::npos);
}

TEST_CASE("cairn dispatch, status, stop, resume, skip and reset") {
  cairn::testing::TestDatabase db;
  auto cairn = cli_on(db);
  auto id = cairn({"dispatch", "--app", CAIRN_COUNTER_MODULE, "counter-cli", "counter.increment", R"({"by":666})"});
  REQUIRE(id.exit_code == 0);
  CHECK(id.out.size() == 37);
  CHECK(cairn({"dispatch", "--app", CAIRN_COUNTER_MODULE, "counter-cli", "counter.increment", R"({"by":"x"})"}).exit_code ==
        2);
  CHECK(cairn({"dispatch", "--app", CAIRN_COUNTER_MODULE, "counter-cli", "counter.increment", "{}", "--at", "whenever"})
            .exit_code == 2);
  CHECK(json_lines(cairn({"status", "--json"}).out).empty());  // no groups yet
  CHECK(cairn({"stop", "counter.totals"}).exit_code == 2);  // no such group yet

  // One worker delivers the command; the projector meets the poison increment and stops the stream.
  std::string log = "/tmp/cairn-cli-worker-" + std::to_string(getpid()) + ".log";
  cairn::testing::migrate_module(db.url(), CAIRN_COUNTER_MODULE);
  {
    cairn::testing::ChildProcess worker(CAIRN_WORKER_PATH,
                                        {"--app", CAIRN_COUNTER_MODULE, "--db", db.url(), "--poll-ms", "20",
                                         "--max-attempts", "2"},
                                        log);
    auto stopped = [&] {
      auto status = json_lines(cairn({"status", "--json"}).out);
      for (const auto& g : status)
        if (g["group"] == "counter.totals" && g["failed_streams"].size() == 1) return g;
      return Json();
    };
    Json group;
    for (int i = 0; i < 300 && (group = stopped()).is_null(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    REQUIRE_FALSE(group.is_null());
    CHECK(group["state"] == "active");
    CHECK(group["failed_streams"][0]["stream_id"] == "counter-cli");
    CHECK(group["failed_streams"][0]["error"].get<std::string>().find("poison") != std::string::npos);
    auto table = cairn({"status"});
    CHECK(table.out.find("stopped counter-cli at seq 2") != std::string::npos);

    CHECK(cairn({"skip", "counter.totals", "--stream", "counter-cli"}).exit_code == 0);
    CHECK(cairn({"skip", "counter.totals", "--stream", "counter-cli"}).exit_code == 2);  // not stopped any more
    auto clear = [&] {
      for (const auto& g : json_lines(cairn({"status", "--json"}).out))
        if (!g["failed_streams"].empty()) return false;
      return true;
    };
    for (int i = 0; i < 300 && !clear(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    CHECK(clear());
    CHECK(cairn({"stop", "counter.totals"}).exit_code == 0);
    CHECK(json_lines(cairn({"status", "--json"}).out).size() == 4);
    CHECK(cairn({"resume", "counter.totals"}).exit_code == 0);
    CHECK(cairn({"resume", "counter.totals", "--stream", "counter-fine"}).exit_code == 2);
    auto reset = cairn({"reset", "counter.totals", "--app", CAIRN_COUNTER_MODULE});
    CHECK(reset.exit_code == 0);
    CHECK(reset.out.find("reset counter.totals: ran its reset hook") == 0);
    CHECK(reset.out.find("workers re-deliver its events up to ") != std::string::npos);
    CHECK(reset.out.find("on 4 slices; the group is active\n") != std::string::npos);
    CHECK(cairn({"reset", "counter.nope"}).exit_code == 2);
    worker.signal(SIGTERM);
    CHECK(worker.wait(std::chrono::seconds(30)) == 0);
  }
  std::remove(log.c_str());
}

// C6 (review-concurrency.md): a worker's slice lease is an advisory lock on a key hashed from
// "cairn.slice/<group>/<slice>" in the key space of the stream write locks, so appending to the
// stream of that name waits for the lease: forever, while the worker runs. Lease keys need a
// namespace of their own.
TEST_CASE("cairn append to a stream named like a slice lease does not wait for the worker holding that slice") {
  cairn::testing::TestDatabase db;
  auto cairn = cli_on(db);
  std::string log = "/tmp/cairn-c6-worker-" + std::to_string(getpid()) + ".log";
  std::string append_log = "/tmp/cairn-c6-append-" + std::to_string(getpid()) + ".log";
  using cairn::testing::read_file;
  cairn::testing::migrate_module(db.url(), CAIRN_COUNTER_MODULE);
  {
    cairn::testing::ChildProcess worker(
        CAIRN_WORKER_PATH, {"--app", CAIRN_COUNTER_MODULE, "--db", db.url(), "--poll-ms", "20", "--groups", "counter.totals"},
        log);
    REQUIRE_MESSAGE(cairn::testing::eventually(
                        [&] { return read_file(log).find("took slice 0 of group counter.totals") != std::string::npos; },
                        std::chrono::seconds(20)),
                    read_file(log));
    // The exit code of `cairn append <stream> test.happened {}`, or -1 if it still runs after 10 s (then killed).
    auto append_to = [&](const std::string& stream) {
      cairn::testing::ChildProcess append(CAIRN_CLI_PATH, {"--db", db.url(), "append", stream, "test.happened", "{}"},
                                          append_log);
      return append.wait(std::chrono::seconds(10));
    };
    // A control: a stream named like a slice no one holds.
    CHECK_MESSAGE(append_to("cairn.slice/counter.nope/0") == 0, read_file(append_log));
    int rc = append_to("cairn.slice/counter.totals/0");
    CHECK_MESSAGE(rc == 0, "cairn append exited with " << rc << " (-1: still blocked after 10 s)\n"
                                                       << read_file(append_log) << "--- worker\n"
                                                       << read_file(log));
    if (rc == 0) CHECK(json_lines(cairn({"read", "cairn.slice/counter.totals/0", "--json"}).out).size() == 1);
    worker.signal(SIGTERM);
    CHECK(worker.wait(std::chrono::seconds(30)) == 0);
  }
  std::remove(log.c_str());
  std::remove(append_log.c_str());
}
