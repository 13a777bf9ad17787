// The item's rules, run alone with Cairn's test kit: no runtime and no store, microseconds a case.
#include <doctest/doctest.h>

#include <cairn/testing.hpp>

#include "item.hpp"

using cairn::testing::spec;
using namespace inventory;

TEST_CASE("receiving adds to what is on hand") {
  auto item = spec(item_actor());
  item.given(Received{5}).when(Receive{3}).then(Received{3});
  CHECK(item.state().on_hand == 8);
}

TEST_CASE("a quantity must be positive") {
  spec(item_actor()).when(Receive{0}).then_rejected("quantity_not_positive", "the quantity must be positive");
  spec(item_actor()).given(Received{5}).when(Ship{-1}).then_rejected("quantity_not_positive", "the quantity must be positive");
}

TEST_CASE("shipping takes from what is on hand, down to zero") {
  auto item = spec(item_actor());
  item.given(Received{5}, Shipped{2}).when(Ship{3}).then(Shipped{3});
  CHECK(item.state().on_hand == 0);
}

TEST_CASE("shipping more than is on hand is rejected") {
  spec(item_actor()).given(Received{5}, Shipped{2}).when(Ship{4}).then_rejected("insufficient_stock", "cannot ship 4: 3 on hand");
}
