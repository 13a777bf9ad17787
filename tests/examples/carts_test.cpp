// The carts example on the backend under test: what the runtime adds to the cart's rules (they are
// specified in carts_spec.cpp): a refusal stores nothing, time travel, and checkout placing an
// order on its own stream through a reaction (a command dispatched through the log, handled once).
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

TEST_CASE("a cart's refusal stores nothing, and its state can be read at any seq") {
  auto runtime = carts_runtime();
  REQUIRE(runtime->handle("cart-1", carts::AddItem{"tea", 2, 450}).ok());   // seq 2
  REQUIRE(runtime->handle("cart-1", carts::AddItem{"cups", 1, 1200}).ok()); // seq 4
  REQUIRE(runtime->handle("cart-1", carts::RemoveItem{"cups"}).ok());       // seq 6
  auto refused = runtime->handle("cart-1", carts::RemoveItem{"cake"});
  CHECK(refused.status == HandleResult::Status::rejected);
  CHECK(refused.rejection_code == "item_not_in_cart");
  CHECK(refused.error == "no cake in the cart");
  CHECK(runtime->store().head_seq("cart-1") == 6);
  CHECK(runtime->load<carts::Cart>("cart-1").total_cents() == 900);
  CHECK(runtime->state_json("cart-1", {0, 4, std::nullopt})["items"].contains("cups"));  // before the removal
  CHECK_FALSE(runtime->state_json("cart-1")["items"].contains("cups"));
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
