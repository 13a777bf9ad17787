// The stock levels projector, run alone with Cairn's test kit: events in, views out.
#include <doctest/doctest.h>

#include <cairn/testing.hpp>

#include "stock_levels.hpp"

using cairn::testing::spec;
using namespace inventory;

TEST_CASE("each item's view counts what came in and went out") {
  spec(stock_levels())
      .given("item-tea", Received{5}, Shipped{2})
      .given("item-cake", Received{1})
      .then_view("item-tea", StockLevel{.on_hand = 3, .received = 5, .shipped = 2})
      .then_view("item-cake", StockLevel{.on_hand = 1, .received = 1, .shipped = 0})
      .then_no_view("item-jam");
}
