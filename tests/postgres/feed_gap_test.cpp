// An SQL projector's progress never passes an event its feed skipped in a stream its runner has
// just met (whose earlier events it assumes handled): the transaction that would is refused
// (StreamGap), and the runner reads the skipped events from the stream itself.
#include <doctest/doctest.h>

#include <pqxx/pqxx>

#include <cairn/runtime.hpp>
#include <cairn/sql_projector.hpp>
#include "tests/support/counter_consumers.hpp"
#include "tests/support/eventually.hpp"
#include "tests/support/faulty_store.hpp"
#include "tests/support/test_database.hpp"
#include "tests/support/warnings.hpp"

using namespace cairn;
using cairn::testing::eventually;

namespace {

// (total, events, last_seq) of a stream in the totals projector's table.
std::tuple<long, long, long> totals_of(const std::string& url, const std::string& stream) {
  pqxx::connection c(url);
  pqxx::read_transaction tx(c);
  auto rows = tx.exec_params("SELECT total, events, last_seq FROM public.counter_totals WHERE stream_id = $1", stream);
  if (rows.empty()) return {0, 0, 0};
  return {rows[0][0].as<long>(), rows[0][1].as<long>(), rows[0][2].as<long>()};
}

}  // namespace

TEST_CASE("an SQL projector's mark is not written past an event of its types that it was not handed") {
  testing::TestDatabase db;
  Config config;
  config.database_url = db.url();
  Runtime runtime(config);
  auto& store = runtime.store();
  store.ensure_group("g", 1, StartFrom::beginning());
  auto lease = store.try_lease_slice("g", 0, "me");
  REQUIRE(lease != nullptr);
  testing::execute_sql(db.url(), "CREATE TABLE applied (stream_id text, seq bigint)");
  auto typed = [](const std::string& type) { return make_message("s", type, Json::object()); };
  auto log = store.append("s", ExpectedSeq::exactly(0), {typed("a"), typed("b"), typed("a"), typed("a")});
  // Hands the events of these seqs to a projector of type "a" in one transaction, with their mark,
  // as a runner does that met the stream just now.
  auto hand = [&](const std::string& group, const std::vector<int64_t>& seqs, const Fence& fence) {
    std::vector<Message> events;
    for (auto seq : seqs) events.push_back(store.read_stream("s", {seq - 1, seq, std::nullopt}).at(0));
    store.sql()->transact_with_marks({{group, "s", seqs.back(), fence, true}}, {"a"},
                                     [&](pqxx::work& tx, const SqlTransactions::Handled& handled) {
                                       for (const auto& e : events)
                                         if (!handled(e))
                                           tx.exec_params("INSERT INTO applied VALUES ($1, $2)", e.stream_id, e.seq);
                                     });
  };
  auto applied = [&] { return testing::query_number(db.url(), "SELECT count(*) FROM applied"); };
  auto mark = [&](const std::string& group) {
    auto progress = store.load_progress(group, {"s"});
    return progress.empty() ? int64_t{0} : progress[0].seq;
  };

  SUBCASE("an event before the first handed") {
    try {
      hand("g", {3, 4}, lease->fence());
      FAIL("the mark passed seq 1");
    } catch (const StreamGap& gap) {
      CHECK(gap.stream() == "s");
      CHECK(gap.after_seq() == 0);
    }
    CHECK(applied() == 0);  // nothing of it was committed
    CHECK(mark("g") == 0);
  }
  SUBCASE("an event between two handed") {
    CHECK_THROWS_AS(hand("g", {1, 4}, lease->fence()), StreamGap);
    CHECK(applied() == 0);
    CHECK(mark("g") == 0);
  }
  SUBCASE("every event of its types handed: events of other types do not count") {
    hand("g", {1, 3}, lease->fence());
    hand("g", {4}, lease->fence());
    CHECK(applied() == 3);
    CHECK(mark("g") == 4);
  }
  SUBCASE("events before a group's start do not count") {
    // The start is the feed's head, which shows the four events once no older transaction is open.
    REQUIRE(eventually([&] { return store.read_feed({}, 4).size() == 4; }));
    store.ensure_group("late", 1, StartFrom::now());
    auto late = store.try_lease_slice("late", 0, "me");
    REQUIRE(late != nullptr);
    store.append("s", ExpectedSeq::exactly(4), {typed("b"), typed("a")});
    hand("late", {6}, late->fence());
    CHECK(applied() == 1);
    CHECK(mark("late") == 6);
  }
}

// The events a feed skips, seen by the runner of an SQL projector, in streams new to it: the first
// event of one, and one between two that it hands in one batch. Without the check, the projector's
// table missed them for good and its marks went past them.
TEST_CASE("a runner whose feed skipped events reads them from the stream; the read model misses none") {
  testing::TestDatabase db;
  testing::SkippingFeed* feed = nullptr;
  Config config;
  config.database_url = db.url();
  testing::wrap_store_in(config, feed);
  Runtime runtime(config);
  counter::install(runtime.app());
  runtime.add(counter::totals_projector());
  runtime.migrate();
  // Each increment is the command (odd seq) and its event (even seq).
  for (int i = 1; i <= 3; ++i) {
    REQUIRE(runtime.handle("counter-gap-first", counter::Increment{i}).ok());
    REQUIRE(runtime.handle("counter-gap-middle", counter::Increment{i}).ok());
  }
  REQUIRE(eventually([&] { return feed->shows(12); }));
  feed->leave_out("counter-gap-first", 2);
  feed->leave_out("counter-gap-middle", 4);
  testing::Warnings warnings;
  WorkerOptions options;
  options.groups = {"counter.totals"};
  options.poll_interval = std::chrono::milliseconds(10);
  options.log = warnings.sink();
  runtime.start_consumers(options);
  const std::tuple<long, long, long> all{6, 3, 6};
  for (std::string stream : {"counter-gap-first", "counter-gap-middle"}) {
    CHECK(eventually([&] { return totals_of(db.url(), stream) == all; }));
    auto [total, events, last] = totals_of(db.url(), stream);
    INFO(stream, ": total ", total, ", events ", events, ", last seq ", last);
    CHECK(totals_of(db.url(), stream) == all);
    CHECK(runtime.store().load_progress("counter.totals", {stream}).at(0).seq == 6);
  }
  CHECK(feed->dropped() == 2);
  runtime.shutdown();
  CHECK(warnings.said("stream 'counter-gap-first': events after seq 1 and before seq 4 never reached the consumer"));
  CHECK(warnings.said("stream 'counter-gap-middle': events after seq 3 and before seq 6 never reached the consumer"));
}
