// The test kit's PostgreSQL variant on the bank's SQL projector: its rows after given events.
#include <doctest/doctest.h>

#include "examples/bank_account/account.hpp"
#include <cairn/testing_sql.hpp>
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
