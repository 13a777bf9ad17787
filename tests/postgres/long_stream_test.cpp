// A long stream is read a page at a time: rehydrating it (`cairn state`, time travel without a
// snapshot) and printing it (`cairn read`) take a bounded amount of memory however long it is.
#include <doctest/doctest.h>

#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <cairn/validation.hpp>
#include "tests/support/child_process.hpp"
#include "tests/support/process.hpp"
#include "tests/support/test_database.hpp"

namespace {

constexpr long events = 1000000;

// The peak RSS allowed to a `cairn` process that reads the whole stream. Paged (1,000 messages a
// read), both commands peak at 14 MiB, what `cairn state` takes on an empty stream; reading the
// stream whole, both peaked at 760 MiB. The bound leaves room for other allocators and builds.
#if defined(__SANITIZE_ADDRESS__)
// Under AddressSanitizer (tools/test --sanitize) every allocation carries shadow memory and freed
// memory waits in a quarantine: the children run without the quarantine, and paged they peak at
// 117 MiB (measured), still far below what reading the stream whole takes. They are slow too.
constexpr long rss_bound_kib = 192 * 1024;
constexpr auto run_limit = std::chrono::seconds(300);
#else
constexpr long rss_bound_kib = 64 * 1024;
constexpr auto run_limit = std::chrono::seconds(60);
#endif

}  // namespace

TEST_CASE("a 1,000,000-event stream is rehydrated and printed with a bounded peak RSS") {
  cairn::testing::TestDatabase db;
  const std::string stream = "counter-long";
  // Written by plain INSERTs (the store's appends would take minutes); sequential ids keep the
  // unique index cheap to fill. Each event is a counter.incremented{by: 1}. In statements of 50,000:
  // a transaction that keeps its xid for seconds holds back every consumer group's feed in the
  // cluster, other tests' databases included (the food delivery example's 5-second read-back
  // failed behind one).
  constexpr long chunk = 50000;
  for (long from = 1; from <= events; from += chunk)
    cairn::testing::execute_sql(
        db.url(), "INSERT INTO cairn.messages (id, stream_id, seq, type, revision, payload, metadata, stream_hash) "
                  "SELECT ('00000000-0000-4000-8000-' || lpad(to_hex(s), 12, '0'))::uuid, '" + stream +
                      "', s, 'counter.incremented', 2, '{\"by\": 1}', '{}', " +
                      std::to_string(cairn::stream_hash(stream)) + " FROM generate_series(" + std::to_string(from) +
                      ", " + std::to_string(std::min(events, from + chunk - 1)) + ") s");
  cairn::testing::execute_sql(db.url(), "INSERT INTO cairn.streams (stream_id, head_seq) VALUES ('" + stream + "', " +
                                            std::to_string(events) + ")");

  // Both at once: each is measured on its own, and the test takes half the time.
  auto with_db = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {"--db", db.url()});
    return args;
  };
#if defined(__SANITIZE_ADDRESS__)
  std::string asan = getenv("ASAN_OPTIONS") ? getenv("ASAN_OPTIONS") : "";
  setenv("ASAN_OPTIONS", (asan + (asan.empty() ? "" : ":") + "quarantine_size_mb=0").c_str(), 1);
#endif
  std::string out_path = "/tmp/cairn-long-stream-" + std::to_string(getpid()) + ".out";
  cairn::testing::ChildProcess state(CAIRN_CLI_PATH, with_db({"state", "--app", CAIRN_COUNTER_MODULE, stream}), out_path);
  cairn::testing::ChildProcess printing(CAIRN_CLI_PATH, with_db({"read", stream, "--json"}), "/dev/null");  // 220 MB

  CHECK(state.wait(run_limit) == 0);
  CHECK(cairn::testing::read_file(out_path) == "{\"count\":1000000,\"total\":1000000}\n");
  unlink(out_path.c_str());
  MESSAGE("cairn state: peak RSS " << state.max_rss_kib() / 1024 << " MiB");
  CHECK(state.max_rss_kib() < rss_bound_kib);

  CHECK(printing.wait(run_limit) == 0);
  MESSAGE("cairn read --json: peak RSS " << printing.max_rss_kib() / 1024 << " MiB");
  CHECK(printing.max_rss_kib() < rss_bound_kib);
}
