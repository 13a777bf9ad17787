// The carts example on the backend under test: the cart's rules, and checkout placing an order
// on its own stream through a reaction (a command dispatched through the log, handled once).
#include <doctest/doctest.h>

#include "examples/carts/cart.hpp"
#include <cairn/runtime.hpp>
#include "tests/support/backend.hpp"
#include "tests/support/eventually.hpp"
#include "tests/support/runtimes.hpp"

using namespace cairn;

namespace {

std::unique_ptr<Runtime> carts_runtime() {
  auto runtime = testing::backend_runtime();
  runtime->add(carts::cart_actor()).add(orders::order_actor());
  return runtime;
}

}  // namespace

TEST_CASE("a cart adds, removes and checks out; every refusal says why and stores nothing") {
  auto runtime = carts_runtime();
  auto rejects = [&](const std::string& cart, const auto& command, const std::string& code, const std::string& why) {
    auto before = runtime->store().head_seq(cart);
    auto result = runtime->handle(cart, command);
    CHECK(result.status == HandleResult::Status::rejected);
    CHECK(result.rejection_code == code);
    CHECK(result.error == why);
    CHECK(runtime->store().head_seq(cart) == before);
  };
  rejects("cart-1", carts::Checkout{}, "cart_empty", "the cart is empty");
  rejects("cart-1", carts::AddItem{"tea", 0, 450}, "quantity_not_positive", "quantity must be positive");
  rejects("cart-1", carts::RemoveItem{"tea"}, "item_not_in_cart", "no tea in the cart");
  REQUIRE(runtime->handle("cart-1", carts::AddItem{"tea", 2, 450}).ok());
  REQUIRE(runtime->handle("cart-1", carts::AddItem{"tea", 1, 450}).ok());
  REQUIRE(runtime->handle("cart-1", carts::AddItem{"cups", 1, 1200}).ok());
  REQUIRE(runtime->handle("cart-1", carts::RemoveItem{"cups"}).ok());
  auto cart = runtime->load<carts::Cart>("cart-1");
  CHECK(cart.items.at("tea").quantity == 3);
  CHECK(cart.total_cents() == 1350);
  auto checkout = runtime->handle("cart-1", carts::Checkout{});
  REQUIRE(checkout.ok());
  CHECK(checkout.events.at(0).payload == Json{{"total_cents", 1350}});
  rejects("cart-1", carts::AddItem{"cake", 1, 300}, "cart_checked_out", "the cart is checked out");
  rejects("cart-1", carts::Checkout{}, "cart_checked_out", "the cart is already checked out");
  CHECK(runtime->state_json("cart-1", {0, 6, std::nullopt})["items"].contains("cups"));  // before the removal
  runtime->shutdown();
}

TEST_CASE("checking out places the order on order-<cart>, once, in the checkout's correlation") {
  auto runtime = carts_runtime();
  runtime->start_consumers(testing::quiet_workers());
  REQUIRE(runtime->handle("cart-7", carts::AddItem{"tea", 2, 450}).ok());
  auto checkout = runtime->handle("cart-7", carts::Checkout{});
  REQUIRE(checkout.ok());
  REQUIRE(testing::eventually([&] { return runtime->load<orders::Order>("order-cart-7").placed; }));
  auto order = runtime->load<orders::Order>("order-cart-7");
  CHECK(order.cart_id == "cart-7");
  CHECK(order.total_cents == 900);
  auto log = runtime->store().read_stream("order-cart-7");
  REQUIRE(log.size() == 2);  // the dispatched command, then its event: delivered exactly once
  CHECK(log[0].type == "orders.place_order");
  CHECK(log[1].type == "orders.order_placed");
  auto correlation = checkout.events[0].metadata["correlation_id"];
  for (const auto& m : log) CHECK(m.metadata["correlation_id"] == correlation);
  CHECK(log[0].metadata["causation_id"] == checkout.events[0].id);
  runtime->shutdown();
}
