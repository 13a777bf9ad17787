// What a worker meets in PostgreSQL that Cairn would not write today (an older version's rows, a
// hand-edited table): a scheduled row it cannot read, a correlation id of the wrong type.
#include <doctest/doctest.h>

#include "backends/postgres/postgres_store.hpp"
#include "runtime/reactions.hpp"
#include <cairn/runtime.hpp>
#include "tests/support/counter_actor.hpp"
#include "tests/support/eventually.hpp"
#include "tests/support/runtimes.hpp"
#include "tests/support/test_database.hpp"

using namespace cairn;
using cairn::testing::eventually;

namespace {

long rows_with_id(const std::string& url, const std::string& id) {
  return testing::query_number(url, "SELECT count(*) FROM cairn.scheduled_messages WHERE id = '" + id + "'");
}

}  // namespace

TEST_CASE("scheduled messages: a row that cannot be read does not block the other due messages, and is kept") {
  testing::TestDatabase db;
  PostgresStore store(db.url());
  auto unreadable = new_uuid();
  testing::execute_sql(db.url(), "INSERT INTO cairn.scheduled_messages (id, stream_id, due_at, message) VALUES ('" +
                                     unreadable + "', 'reminder-1', now() - interval '1 minute', '\"not a message\"')");
  store.schedule(make_message("reminder-1", "test.remind", Json::object()), now() - std::chrono::seconds(1));
  store.promote_due(now(), 100);
  CHECK(store.head_seq("reminder-1") == 1);
  CHECK(rows_with_id(db.url(), unreadable) == 1);
  auto kept = store.undeliverable_messages(10);
  REQUIRE(kept.size() == 1);
  CHECK(kept[0].id == unreadable);
  CHECK(kept[0].error.find("cannot be read as a message") != std::string::npos);
  CHECK(store.promote_due(now(), 100).empty());
}

TEST_CASE("scheduled messages: a due message whose id is already in another stream is kept") {
  testing::TestDatabase db;
  PostgresStore store(db.url());
  auto taken = make_message("reminder-a", "test.remind", Json::object());
  store.append("reminder-a", ExpectedSeq::exactly(0), {taken});
  auto clash = taken;
  clash.stream_id = "reminder-b";
  store.schedule(clash, now() - std::chrono::seconds(1));
  store.promote_due(now(), 100);
  CHECK(store.head_seq("reminder-b") == 0);
  CHECK(rows_with_id(db.url(), taken.id) == 1);
}

TEST_CASE("reactions: a stored correlation id of the wrong type does not stop the reaction") {
  testing::TestDatabase db;
  auto runtime = testing::backend_runtime(db.url());
  counter::install(runtime->app());
  auto big = runtime->handle("counter-odd", counter::Increment{150});
  REQUIRE(big.ok());
  testing::execute_sql(db.url(), "UPDATE cairn.messages SET metadata = jsonb_set(metadata, '{correlation_id}', '5') "
                                 "WHERE stream_id = 'counter-odd'");
  runtime->start_consumers(testing::quiet_workers());
  CHECK(eventually([&] { return runtime->store().head_seq("counter-odd-echo") == 2; }));
  CHECK(runtime->store().failed_streams("counter.reactions").empty());
  runtime->shutdown();
}
