// An item in stock (streams item-<sku>): quantities are received and shipped, never below zero.
#pragma once

#include <cstdint>
#include <string>

#include <cairn/cairn.hpp>

namespace inventory {

// Commands
struct Receive {
  int64_t quantity = 0;
};
struct Ship {
  int64_t quantity = 0;
};

// Events
struct Received {
  int64_t quantity = 0;
};
struct Shipped {
  int64_t quantity = 0;
};

// Only what decide needs; readers get their own view (stock_levels.hpp).
struct Item {
  int64_t on_hand = 0;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Item, on_hand)

}  // namespace inventory

CAIRN_MESSAGE(inventory::Receive, "inventory.receive", 1, quantity)
CAIRN_MESSAGE(inventory::Ship, "inventory.ship", 1, quantity)
CAIRN_MESSAGE(inventory::Received, "inventory.received", 1, quantity)
CAIRN_MESSAGE(inventory::Shipped, "inventory.shipped", 1, quantity)

namespace inventory {

inline cairn::ActorDefinition<Item> item_actor() {
  return cairn::actor<Item>("item")
      .decide<Receive>([](const Item&, const Receive& c) -> cairn::Decision {
        if (c.quantity <= 0) return cairn::reject("quantity_not_positive", "the quantity must be positive");
        return Received{c.quantity};
      })
      .decide<Ship>([](const Item& item, const Ship& c) -> cairn::Decision {
        if (c.quantity <= 0) return cairn::reject("quantity_not_positive", "the quantity must be positive");
        if (c.quantity > item.on_hand)
          return cairn::reject("insufficient_stock", "cannot ship " + std::to_string(c.quantity) + ": " + std::to_string(item.on_hand) +
                               " on hand");
        return Shipped{c.quantity};
      })
      .evolve<Received>([](Item& item, const Received& e) { item.on_hand += e.quantity; })
      .evolve<Shipped>([](Item& item, const Shipped& e) { item.on_hand -= e.quantity; });
}

}  // namespace inventory
