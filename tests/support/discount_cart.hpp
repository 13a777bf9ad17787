// A cart whose AddItem is a Multi decision: once the total reaches 100.00, the same decision also
// grants a discount, and an item that would take the total over 1000.00 is refused, with nothing
// of the decision kept. Each rule reads the state the events emitted before it produced.
#pragma once

#include <string>

#include <cairn/application.hpp>

namespace discount_cart {

struct AddItem {
  std::string sku;
  long price_cents = 0;
};
struct ItemAdded {
  std::string sku;
  long price_cents = 0;
};
struct DiscountGranted {
  int percent = 0;
};

struct Cart {
  long total_cents = 0;
  int items = 0;
  int discount_percent = 0;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Cart, total_cents, items, discount_percent)

}  // namespace discount_cart

CAIRN_MESSAGE(discount_cart::AddItem, "discount_cart.add_item", 1, sku, price_cents)
CAIRN_MESSAGE(discount_cart::ItemAdded, "discount_cart.item_added", 1, sku, price_cents)
CAIRN_MESSAGE(discount_cart::DiscountGranted, "discount_cart.discount_granted", 1, percent)

namespace discount_cart {

inline constexpr long discount_from_cents = 10000;
inline constexpr long limit_cents = 100000;

inline cairn::ActorDefinition<Cart> actor() {
  return cairn::actor<Cart>("dcart")
      .decide<AddItem>([](cairn::Multi<Cart>& cart, const AddItem& c) {
        if (c.price_cents <= 0) return cart.reject("price_not_positive", "price_cents must be positive");
        cart.emit(ItemAdded{c.sku, c.price_cents});
        if (cart.state().total_cents > limit_cents)
          return cart.reject("over_limit", "the total would be " + std::to_string(cart.state().total_cents));
        if (cart.state().total_cents >= discount_from_cents && cart.state().discount_percent == 0)
          cart.emit(DiscountGranted{10});
      })
      .evolve<ItemAdded>([](Cart& cart, const ItemAdded& e) {
        cart.total_cents += e.price_cents;
        cart.items += 1;
      })
      .evolve<DiscountGranted>([](Cart& cart, const DiscountGranted& e) { cart.discount_percent = e.percent; });
}

}  // namespace discount_cart
