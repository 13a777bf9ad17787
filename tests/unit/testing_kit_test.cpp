// The test kit (runtime/testing.hpp) on the examples' actors: decisions, rejections, state and
// reactions, with no runtime; and its failures, which must name what differed.
#include <doctest/doctest.h>

#include "examples/bank_account/account.hpp"
#include "examples/food_delivery/projections.hpp"
#include <cairn/testing.hpp>
#include "tests/support/counter_actor.hpp"

using cairn::testing::SpecificationFailed;
using cairn::testing::spec;

TEST_CASE("the account's rules, case by case") {
  using namespace bank;
  spec(account_actor()).when(Deposit{10}).then_rejected("account_not_open", "the account is not open");
  spec(account_actor()).when(OpenAccount{""}).then_rejected("owner must not be empty");
  spec(account_actor()).when(OpenAccount{"ann"}).then(AccountOpened{"ann"});
  spec(account_actor()).given(AccountOpened{"ann"}).when(OpenAccount{"bob"}).then_rejected("already open");
  spec(account_actor())
      .given(AccountOpened{"ann"}, Deposited{100})
      .when(Withdraw{150})
      .then_rejected("insufficient_funds", "the balance is 100");
  auto after = spec(account_actor()).given(AccountOpened{"ann"}, Deposited{100}).when(Withdraw{30}).then(Withdrawn{30});
  CHECK(after.state().balance == 70);
  CHECK(after.state().status == "open");
  spec(account_actor())
      .given(AccountOpened{"ann"}, Deposited{5})
      .when(CloseAccount{})
      .then_rejected("balance_not_zero", "the balance must be 0 to close the account, it is 5");
  spec(account_actor()).given(AccountOpened{"ann"}, AccountClosed{}).when(Deposit{1}).then_rejected("account_closed", "");
}

TEST_CASE("reactions: the commands an event sends") {
  spec(counter::actor(), "counter-7")
      .reacting_to(counter::Incremented{100})
      .then_sends(cairn::send("counter-7-echo", counter::Increment{1}));
  spec(counter::actor()).reacting_to(counter::Incremented{5}).then_sends();
}

TEST_CASE("a failed expectation throws, naming what was expected and what happened") {
  using namespace bank;
  auto opened = [] { return spec(account_actor()).given(AccountOpened{"ann"}, Deposited{100}); };
  CHECK_THROWS_WITH_AS(opened().when(Withdraw{30}).then(Withdrawn{31}),
                       doctest::Contains("expected events:\n  bank.withdrawn {\"amount\":31}\n"
                                         "but decide produced:\n  bank.withdrawn {\"amount\":30}"),
                       SpecificationFailed);
  CHECK_THROWS_WITH_AS(opened().when(Withdraw{500}).then(Withdrawn{500}),
                       doctest::Contains("but the command was rejected (insufficient_funds): the balance is 100"),
                       SpecificationFailed);
  CHECK_THROWS_WITH_AS(opened().when(Withdraw{30}).then_rejected(), doctest::Contains("expected a rejection"),
                       SpecificationFailed);
  CHECK_THROWS_WITH_AS(opened().when(Withdraw{500}).then_rejected("closed"),
                       doctest::Contains("containing 'closed', but it was rejected (insufficient_funds)"),
                       SpecificationFailed);
  CHECK_THROWS_WITH_AS(opened().when(Withdraw{500}).then_rejected("account_closed", ""),
                       doctest::Contains("expected a rejection with code 'account_closed', but it was rejected "
                                         "(insufficient_funds): the balance is 100, the withdrawal 500"),
                       SpecificationFailed);
  CHECK_THROWS_WITH_AS(opened().when(Withdraw{500}).then_rejected("insufficient_funds", "the balance is 7"),
                       doctest::Contains("containing 'the balance is 7'"), SpecificationFailed);
  CHECK_THROWS_WITH_AS(opened().when(Withdraw{30}).then_nothing(), doctest::Contains("expected no events"),
                       SpecificationFailed);
  CHECK_THROWS_WITH_AS(opened().then(Withdrawn{30}), doctest::Contains("needs when(command) first"),
                       SpecificationFailed);
  CHECK_THROWS_WITH_AS(spec(counter::actor()).reacting_to(counter::Incremented{100}).then_sends(),
                       doctest::Contains("but react sent:\n  to counter-test-echo: counter.increment {\"by\":1}"),
                       SpecificationFailed);
}

TEST_CASE("projectors: views from events in several streams, state-stored and event-sourced") {
  using namespace food;
  OrderCreated first{"o1", "user-7", "luigi", {{"pizza", 2}}, "42"};
  OrderCreated second{"o2", "user-7", "mario", {{"pasta", 1}, {"wine", 3}}, "17"};
  spec(user_orders_projector())
      .given("order-o1", first)
      .given("order-o2", second, OrderAccepted{})
      .then_view("user-7", UserOrders{{"o1", "o2"}})
      .then_no_view("user-8");
  spec(restaurant_board_projector()).given("order-o2", second).then_view("mario", RestaurantBoard{1, 4});

  auto noon = cairn::parse_time("2026-11-30T12:00:00Z");
  auto status = spec(delivery_status_projector()).at(noon).given("order-o1", first, PaymentInitiated{1200}, OrderAccepted{});
  status.then_view("order-o1", DeliveryStatus{"o1", "preparing", "2026-11-30T12:00:00.000000Z", "42", Payment::pending});
  CHECK_THROWS_WITH_AS(status.then_view("order-o1", DeliveryStatus{"o1", "done", "", "42", Payment::pending}),
                       doctest::Contains("expected the view of 'order-o1' to be"), SpecificationFailed);
  CHECK_THROWS_WITH_AS(status.then_no_view("order-o1"), doctest::Contains("expected no view"), SpecificationFailed);
  CHECK_THROWS_WITH_AS(status.then_view("order-o9", DeliveryStatus{}), doctest::Contains("there is none"),
                       SpecificationFailed);
}
