// The shopping cart: add and remove items, check out; checking out places an order on its own stream.
#pragma once

#include <map>
#include <string>

#include <cairn/application.hpp>

namespace carts {

// Commands
struct AddItem {
  std::string sku;
  int quantity = 1;
  long price_cents = 0;
};
struct RemoveItem {
  std::string sku;
};
struct Checkout {};

// Events
struct ItemAdded {
  std::string sku;
  int quantity = 1;
  long price_cents = 0;
};
struct ItemRemoved {
  std::string sku;
};
struct CheckedOut {
  long total_cents = 0;
};

struct Line {
  int quantity = 0;
  long price_cents = 0;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Line, quantity, price_cents)

struct Cart {
  std::map<std::string, Line> items;
  bool checked_out = false;

  long total_cents() const {
    long total = 0;
    for (const auto& [sku, line] : items) total += line.quantity * line.price_cents;
    return total;
  }
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Cart, items, checked_out)

}  // namespace carts

namespace orders {

struct PlaceOrder {
  std::string cart_id;
  long total_cents = 0;
};
struct OrderPlaced {
  std::string cart_id;
  long total_cents = 0;
};
struct Order {
  std::string cart_id;
  long total_cents = 0;
  bool placed = false;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Order, cart_id, total_cents, placed)

}  // namespace orders

CAIRN_MESSAGE(carts::AddItem, "carts.add_item", 1, sku, quantity, price_cents)
CAIRN_MESSAGE(carts::RemoveItem, "carts.remove_item", 1, sku)
CAIRN_MESSAGE(carts::Checkout, "carts.checkout", 1)
CAIRN_MESSAGE(carts::ItemAdded, "carts.item_added", 1, sku, quantity, price_cents)
CAIRN_MESSAGE(carts::ItemRemoved, "carts.item_removed", 1, sku)
CAIRN_MESSAGE(carts::CheckedOut, "carts.checked_out", 1, total_cents)
CAIRN_MESSAGE(orders::PlaceOrder, "orders.place_order", 1, cart_id, total_cents)
CAIRN_MESSAGE(orders::OrderPlaced, "orders.order_placed", 1, cart_id, total_cents)

namespace carts {

inline cairn::ActorDefinition<Cart> cart_actor() {
  using cairn::Decision;
  return cairn::actor<Cart>("cart")
      .decide<AddItem>([](const Cart& cart, const AddItem& c) -> Decision {
        if (cart.checked_out) return cairn::reject("cart_checked_out", "the cart is checked out");
        if (c.quantity <= 0) return cairn::reject("quantity_not_positive", "quantity must be positive");
        return ItemAdded{c.sku, c.quantity, c.price_cents};
      })
      .decide<RemoveItem>([](const Cart& cart, const RemoveItem& c) -> Decision {
        if (cart.checked_out) return cairn::reject("cart_checked_out", "the cart is checked out");
        if (!cart.items.count(c.sku)) return cairn::reject("item_not_in_cart", "no " + c.sku + " in the cart");
        return ItemRemoved{c.sku};
      })
      .decide<Checkout>([](const Cart& cart, const Checkout&) -> Decision {
        if (cart.checked_out) return cairn::reject("cart_checked_out", "the cart is already checked out");
        if (cart.items.empty()) return cairn::reject("cart_empty", "the cart is empty");
        return CheckedOut{cart.total_cents()};
      })
      .evolve<ItemAdded>([](Cart& cart, const ItemAdded& e) {
        auto& line = cart.items[e.sku];
        line.quantity += e.quantity;
        line.price_cents = e.price_cents;
      })
      .evolve<ItemRemoved>([](Cart& cart, const ItemRemoved& e) { cart.items.erase(e.sku); })
      .evolve<CheckedOut>([](Cart& cart, const CheckedOut&) { cart.checked_out = true; })
      .react<CheckedOut>([](const CheckedOut& e, const cairn::Message& event) {
        return cairn::Commands{cairn::send("order-" + event.stream_id, orders::PlaceOrder{event.stream_id, e.total_cents})};
      });
}

}  // namespace carts

namespace orders {

inline cairn::ActorDefinition<Order> order_actor() {
  return cairn::actor<Order>("order")
      .decide<PlaceOrder>([](const Order& order, const PlaceOrder& c) -> cairn::Decision {
        if (order.placed) return cairn::reject("order_already_placed", "the order is already placed");
        return OrderPlaced{c.cart_id, c.total_cents};
      })
      .evolve<OrderPlaced>([](Order& order, const OrderPlaced& e) {
        order.cart_id = e.cart_id;
        order.total_cents = e.total_cents;
        order.placed = true;
      });
}

}  // namespace orders
