// The food delivery example on the backend under test (its rules and views are specified in
// food_delivery_spec.cpp): the delivery status read after each write, refusals that store nothing,
// orders by user id under concurrency, and a projection added later.
#include <doctest/doctest.h>

#include <algorithm>
#include <thread>

#include "examples/food_delivery/projections.hpp"
#include "tests/support/backend.hpp"
#include "tests/support/eventually.hpp"
#include "tests/support/runtimes.hpp"

using namespace cairn;
using namespace food;

namespace {

std::unique_ptr<Runtime> food_runtime() {
  auto runtime = testing::backend_runtime();
  install(runtime->app());
  return runtime;
}

CreateOrder pizza_for(const std::string& user, const std::string& restaurant = "luigi") {
  return {user, restaurant, {{"margherita", 2}, {"tiramisu", 1}}};
}

}  // namespace

TEST_CASE("an order's life: each write's status is read back at once, with its time and code") {
  auto runtime = food_runtime();
  runtime->start_consumers(testing::quiet_workers());
  const std::string id = "o-1", stream = stream_of(id);
  auto step = [&](const Message& command, const std::string& status, Payment payment) {
    auto result = runtime->handle(stream, command);
    REQUIRE_MESSAGE(result.ok(), result.error);
    auto view = delivery_status(*runtime, id, result.seq);
    REQUIRE(view.has_value());
    CHECK(view->status == status);
    CHECK(view->payment == payment);
    CHECK(view->changed_at == format_time(result.events.back().created_at));
    return *view;
  };
  auto make = [&](const auto& c) { return make_command(stream, c); };
  auto placed = step(make(pizza_for("ann")), "placed", Payment::none);
  CHECK(placed.order_id == id);
  CHECK(placed.delivery_code.size() == 2);
  CHECK(placed.delivery_code == delivery_code_for(id));
  step(make(InitiatePayment{2350}), "placed", Payment::pending);
  step(make(FailPayment{"card declined"}), "placed", Payment::failed);
  CHECK(runtime->handle(stream, AcceptOrder{}).error == "the order is not paid");
  step(make(InitiatePayment{2350}), "placed", Payment::pending);  // a failed payment may be retried
  step(make(ConfirmPayment{}), "placed", Payment::confirmed);
  step(make(AcceptOrder{}), "preparing", Payment::confirmed);
  step(make(StartDelivery{"bo"}), "collected", Payment::confirmed);
  auto wrong = placed.delivery_code == "10" ? "11" : "10";
  auto rejected = runtime->handle(stream, CompleteDelivery{wrong});
  CHECK(rejected.status == HandleResult::Status::rejected);
  CHECK(rejected.rejection_code == "wrong_delivery_code");
  CHECK(rejected.error == "wrong delivery code");
  step(make(CompleteDelivery{placed.delivery_code}), "delivered", Payment::confirmed);
  step(make(ConfirmDelivery{}), "done", Payment::confirmed);
  CHECK(runtime->state_json(stream)["delivered"] == true);
  runtime->shutdown();
}

TEST_CASE("a refused or malformed command appends nothing") {
  auto runtime = food_runtime();
  const std::string stream = stream_of("o-rules");
  auto refused = runtime->handle(stream, InitiatePayment{100});
  CHECK(refused.status == HandleResult::Status::rejected);
  CHECK(refused.rejection_code == "no_order");
  CHECK(refused.error == "no order o-rules");
  CHECK(runtime->store().head_seq(stream) == 0);
  REQUIRE(runtime->handle(stream, pizza_for("ann")).ok());
  CHECK(runtime->handle(stream, pizza_for("ann")).rejection_code == "order_exists");
  auto malformed = runtime->handle(
      stream, make_message(stream, "food.create_order", {{"user_id", "ann"}, {"restaurant_id", "x"}, {"items", "pizza"}}));
  CHECK(malformed.status == HandleResult::Status::invalid);
  CHECK(malformed.error.find("field 'items'") != std::string::npos);
  CHECK(runtime->store().head_seq(stream) == 2);  // the one accepted command, stored with its event
  runtime->shutdown();
}

TEST_CASE("orders by user id: many order streams feed one user's view, concurrently, each order once") {
  auto runtime = food_runtime();
  runtime->start_consumers(testing::quiet_workers());
  const std::vector<std::string> users = {"ann", "bo", "cy"};
  std::vector<std::thread> writers;
  for (int w = 0; w < 4; ++w)
    writers.emplace_back([&, w] {
      for (int i = 0; i < 15; ++i) {
        int n = w * 15 + i;
        REQUIRE(runtime->handle(stream_of("o-" + std::to_string(n)), pizza_for(users[n % 3])).ok());
      }
    });
  for (auto& t : writers) t.join();
  auto expected = [&](size_t u) {
    std::vector<std::string> ids;
    for (int n = 0; n < 60; ++n)
      if (n % 3 == static_cast<int>(u)) ids.push_back("o-" + std::to_string(n));
    std::sort(ids.begin(), ids.end());
    return ids;
  };
  auto orders_of = [&](const std::string& user) {
    auto view = runtime->projection<UserOrders>(user_orders_group, user);
    auto ids = view ? view->order_ids : std::vector<std::string>{};
    std::sort(ids.begin(), ids.end());
    return ids;
  };
  CHECK(testing::eventually([&] {
    for (size_t u = 0; u < users.size(); ++u)
      if (orders_of(users[u]) != expected(u)) return false;
    return true;
  }));
  for (size_t u = 0; u < users.size(); ++u) CHECK(orders_of(users[u]) == expected(u));
  runtime->shutdown();
}

TEST_CASE("a projection deployed after 100 orders catches up over the whole history") {
  auto runtime = food_runtime();
  // The first release runs the two original projections only.
  runtime->start_consumers(testing::quiet_workers({delivery_status_group, user_orders_group}));
  HandleResult last;
  for (int n = 0; n < 100; ++n) {
    last = runtime->handle(stream_of("o-" + std::to_string(n)), pizza_for("u" + std::to_string(n % 7), n % 4 ? "luigi" : "mario"));
    REQUIRE(last.ok());
  }
  REQUIRE(delivery_status(*runtime, "o-99", last.seq).has_value());
  CHECK_FALSE(runtime->store().find_group(restaurant_board_group).has_value());
  runtime->stop_consumers();

  // The next release adds the restaurant board; its group is new, so it starts at the beginning.
  runtime->start_consumers(testing::quiet_workers());
  CHECK(testing::eventually([&] {
    auto luigi = runtime->projection<RestaurantBoard>(restaurant_board_group, "luigi");
    auto mario = runtime->projection<RestaurantBoard>(restaurant_board_group, "mario");
    return luigi && mario && luigi->orders == 75 && mario->orders == 25;
  }));
  auto luigi = runtime->projection<RestaurantBoard>(restaurant_board_group, "luigi");
  REQUIRE(luigi.has_value());
  CHECK(luigi->items == 75 * 3);
  REQUIRE(runtime->store().find_group(restaurant_board_group).has_value());
  runtime->shutdown();
}
