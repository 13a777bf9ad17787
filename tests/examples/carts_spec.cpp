// The carts example's rules with the test kit: the cart's decide and evolve, checkout's reaction
// (the order it places) and the order's one rule; no runtime, no store.
#include <doctest/doctest.h>

#include <cairn/testing.hpp>

#include "examples/carts/cart.hpp"

using cairn::testing::spec;

namespace {
auto cart_with_tea() { return spec(carts::cart_actor(), "cart-1").given(carts::ItemAdded{"tea", 2, 450}); }
auto checked_out_cart() { return cart_with_tea().given(carts::CheckedOut{900}); }
}  // namespace

TEST_CASE("carts: an empty cart cannot check out, and quantities must be positive") {
  spec(carts::cart_actor()).when(carts::Checkout{}).then_rejected("cart_empty", "the cart is empty");
  spec(carts::cart_actor())
      .when(carts::AddItem{"tea", 0, 450})
      .then_rejected("quantity_not_positive", "quantity must be positive");
  spec(carts::cart_actor()).when(carts::RemoveItem{"tea"}).then_rejected("item_not_in_cart", "no tea in the cart");
  spec(carts::cart_actor()).when(carts::AddItem{"tea", 2, 450}).then(carts::ItemAdded{"tea", 2, 450});
}

TEST_CASE("carts: lines add up by sku, a removed line is gone, and checkout charges the total") {
  auto cart = cart_with_tea().given(carts::ItemAdded{"tea", 1, 450}, carts::ItemAdded{"cups", 1, 1200});
  cart.when(carts::RemoveItem{"cups"}).then(carts::ItemRemoved{"cups"});
  CHECK(cart.state().items.at("tea").quantity == 3);
  CHECK_FALSE(cart.state().items.count("cups"));
  CHECK(cart.state().total_cents() == 1350);
  cart.when(carts::Checkout{}).then(carts::CheckedOut{1350});
  CHECK(cart.state().checked_out);
}

TEST_CASE("carts: a checked-out cart takes nothing more") {
  checked_out_cart().when(carts::AddItem{"cake", 1, 300}).then_rejected("cart_checked_out", "the cart is checked out");
  checked_out_cart().when(carts::RemoveItem{"tea"}).then_rejected("cart_checked_out", "the cart is checked out");
  checked_out_cart().when(carts::Checkout{}).then_rejected("cart_checked_out", "the cart is already checked out");
}

TEST_CASE("carts: checking out places the order on order-<cart>, with the cart's total") {
  cart_with_tea()
      .reacting_to(carts::CheckedOut{900})
      .then_sends(cairn::send("order-cart-1", orders::PlaceOrder{"cart-1", 900}));
  cart_with_tea().reacting_to(carts::ItemAdded{"tea", 1, 450}).then_sends();  // only checkout reacts
}

TEST_CASE("orders: an order is placed once") {
  auto order = spec(orders::order_actor(), "order-cart-1");
  order.when(orders::PlaceOrder{"cart-1", 900}).then(orders::OrderPlaced{"cart-1", 900});
  CHECK(order.state().placed);
  CHECK(order.state().total_cents == 900);
  order.when(orders::PlaceOrder{"cart-1", 900}).then_rejected("order_already_placed", "the order is already placed");
}
