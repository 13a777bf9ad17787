// The test kit's PostgreSQL variant on the bank's, the meetings' and a batch SQL projector: their rows after given events.
#include <doctest/doctest.h>

#include "examples/bank_account/account.hpp"
#include "examples/meetings/meeting.hpp"
#include <cairn/testing_sql.hpp>
#include "tests/support/counter_consumers.hpp"
#include "tests/support/test_database.hpp"

using cairn::testing::SpecificationFailed;
using cairn::testing::SqlProjectorSpecification;

TEST_CASE("an SQL projector's rows after events in two streams, and a failed expectation naming both sides") {
  cairn::testing::TestDatabase db;
  SqlProjectorSpecification balances(bank::balances_projector(), db.url());
  balances.given("account-1", bank::AccountOpened{"ann"}, bank::Deposited{100}, bank::Withdrawn{30})
      .given("account-2", bank::AccountOpened{"bob"})
      .then_rows("SELECT account_id, balance, events FROM public.bank_balances ORDER BY account_id",
                 {{"account-1", "70", "3"}, {"account-2", "0", "1"}});
  CHECK_THROWS_WITH_AS(
      balances.then_rows("SELECT balance FROM public.bank_balances WHERE account_id = 'account-1'", {{"100"}}),
      doctest::Contains("to return\n  100\nbut it returned\n  70\n"), SpecificationFailed);
}

TEST_CASE("the meetings tables after a meeting's life, and a second meeting beside it") {
  cairn::testing::TestDatabase db;
  SqlProjectorSpecification tables(meetings::tables_projector(), db.url());
  tables
      .given("meeting-1", meetings::Scheduled{"olga", "2030-01-01T10:00:00.000000Z", {1, 2}}, meetings::Accepted{2},
             meetings::Rescheduled{"2030-01-02T08:30:00.000000Z", {1, 2}}, meetings::Cancelled{"ill", {1, 2}})
      .given("meeting-2", meetings::Scheduled{"ivan", "2030-03-01T12:00:00.000000Z", {3}}, meetings::Finished{})
      .then_rows("SELECT meeting_id, organizer, starts_at AT TIME ZONE 'UTC', status FROM public.meetings ORDER BY 1",
                 {{"meeting-1", "olga", "2030-01-02 08:30:00", "cancelled"},
                  {"meeting-2", "ivan", "2030-03-01 12:00:00", "finished"}})
      .then_rows("SELECT meeting_id, user_id, accepted FROM public.meeting_attendees ORDER BY 1, 2",
                 {{"meeting-1", "1", "f"}, {"meeting-1", "2", "t"}, {"meeting-2", "3", "f"}});
}

TEST_CASE("a batch SQL projector gets a stream's given events as one run, as from a feed batch") {
  cairn::testing::TestDatabase db;
  std::atomic<size_t> longest_run{0};
  SqlProjectorSpecification batched(counter::batched_projector(longest_run), db.url());
  batched.given("counter-1", counter::Incremented{2}, counter::Incremented{3}, counter::Incremented{4})
      .then_rows("SELECT stream_id, total, events, last_seq FROM public.counter_batched", {{"counter-1", "9", "3", "3"}});
  CHECK(longest_run.load() == 3);
}
