// A log restored into another cluster (its transaction ids ahead of the cluster's) is refused by
// every way in, and `cairn repair-xids` renumbers it without losing what groups had not handled.
#include <doctest/doctest.h>

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include <pqxx/pqxx>

#include "backends/postgres/postgres_store.hpp"
#include <cairn/errors.hpp>
#include <cairn/runtime.hpp>
#include "tests/support/child_process.hpp"
#include "tests/support/eventually.hpp"
#include "tests/support/process.hpp"
#include "tests/support/test_database.hpp"

using namespace cairn;
using cairn::testing::eventually;

namespace {

void exec(const std::string& url, const std::string& sql) {
  pqxx::connection c(url);
  pqxx::work tx(c);
  tx.exec0(sql);
  tx.commit();
}

std::string open_error(const std::string& url) {
  try {
    PostgresStore store(url);
  } catch (const StoreError& e) {
    return e.what();
  }
  return "";
}

Message event(const std::string& stream) { return make_message(stream, "restored.happened", Json::object()); }

}  // namespace

TEST_CASE("a log whose transaction ids are ahead of the cluster's is refused by the store, runtime, worker and CLI") {
  testing::TestDatabase db;
  CHECK(open_error(db.url()).empty());
  // What pg_dump and a restore leave behind: a row written by a cluster that had reached 4e9.
  exec(db.url(),
       "INSERT INTO cairn.messages (id, stream_id, seq, type, payload, metadata, xid, stream_hash) "
       "VALUES (gen_random_uuid(), 'old-1', 1, 'restored.happened', '{}', '{}', '4000000000', 1)");

  auto error = open_error(db.url());
  CHECK(error.find("holds transaction id 4000000000") != std::string::npos);
  CHECK(error.find("restored from another cluster") != std::string::npos);
  CHECK(error.find("cairn repair-xids") != std::string::npos);

  Config config;
  config.database_url = db.url();
  CHECK_THROWS_AS(Runtime{config}, StoreError);

  auto status = testing::run_process(CAIRN_CLI_PATH, {"--db", db.url(), "status"});
  CHECK(status.exit_code != 0);
  CHECK(status.err.find("restored from another cluster") != std::string::npos);

  std::string log = "/tmp/cairn-restored-worker-" + std::to_string(getpid()) + ".log";
  {
    testing::ChildProcess worker(CAIRN_WORKER_PATH, {"--app", CAIRN_COUNTER_MODULE, "--db", db.url()}, log);
    auto code = worker.wait(std::chrono::seconds(30));
    CHECK(code > 0);
  }
  CHECK(testing::read_file(log).find("restored from another cluster") != std::string::npos);
  std::remove(log.c_str());
}

TEST_CASE("a group cursor ahead of the cluster's transaction ids is refused too") {
  testing::TestDatabase db;
  {
    PostgresStore store(db.url());
    store.ensure_group("restored.totals", 2, StartFrom::beginning());
  }
  exec(db.url(), "UPDATE cairn.group_slices SET cursor_xid = '4000000000' WHERE slice = 1");
  CHECK(open_error(db.url()).find("holds transaction id 4000000000") != std::string::npos);
}

TEST_CASE("cairn repair-xids renumbers a restored log: order per stream kept, nothing unhandled skipped") {
  testing::TestDatabase db;
  std::vector<Message> written;  // a1 b1 a2 b2 a3, in position order
  {
    PostgresStore store(db.url());
    for (auto stream : {"a", "b", "a", "b", "a"})
      written.push_back(store.append(stream, ExpectedSeq::any(), {event(stream)})[0]);
    store.ensure_group("restored.totals", 1, StartFrom::beginning());
    store.mark_handled({"restored.totals", "b", 1});
  }
  auto position = [&](size_t i) { return std::to_string(written[i].position); };
  // The old cluster committed b1 before a1: its feed order was b1 a1 a2 b2 a3. The group had handled
  // b1; a reset had made b1 and a1 replays.
  exec(db.url(), "UPDATE cairn.messages SET xid = (CASE position WHEN " + position(0) + " THEN '4000000020' WHEN " +
                     position(1) + " THEN '4000000010' WHEN " + position(4) + " THEN '4000000040' "
                     "ELSE '4000000030' END)::xid8");
  exec(db.url(), "UPDATE cairn.group_slices SET cursor_xid = '4000000010', cursor_position = " + position(1));
  exec(db.url(), "UPDATE cairn.consumer_groups SET replay_xid = '4000000020', replay_position = " + position(0));
  REQUIRE_FALSE(open_error(db.url()).empty());

  auto cairn = [&](const std::string& command) {
    return testing::run_process(CAIRN_CLI_PATH, {"--db", db.url(), command});
  };
  auto repaired = cairn("repair-xids");
  CHECK(repaired.exit_code == 0);
  CHECK(repaired.out.find("renumbered 5 messages and moved 3 group cursors") == 0);  // slice, replay, start

  PostgresStore store(db.url());
  // Everything after the old cursor comes again, in position order; b1 again too (its mark skips it).
  auto cursor = store.load_cursor("restored.totals", 0);
  std::vector<FeedEntry> feed;
  REQUIRE(eventually([&] {  // another test's open transaction may hold the horizon for a moment
    feed = store.read_feed(cursor, 100, FeedFilter{});
    return feed.size() == 5;
  }));
  for (size_t i = 0; i < feed.size(); ++i) CHECK(feed[i].message.id == written[i].id);
  CHECK(store.load_progress("restored.totals", {"b"}).at(0).seq == 1);
  // Replays stay replays, and only those (a1 and b1).
  auto group = store.find_group("restored.totals");
  CHECK(!(group->replay_until < feed[1].cursor));
  CHECK(group->replay_until < feed[2].cursor);

  // New appends come after the whole restored log.
  auto a4 = store.append("a", ExpectedSeq::exactly(3), {event("a")})[0];
  CHECK(eventually([&] {
    auto next = store.read_feed(feed.back().cursor, 100, FeedFilter{});
    return next.size() == 1 && next[0].message.id == a4.id;
  }));
  CHECK(cairn("repair-xids").out.find("nothing to repair") != std::string::npos);
}
