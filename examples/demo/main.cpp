// cairn-demo: a shopping cart on the embedded (in-memory) store. Replaced by the examples issue.
#include <iostream>

#include "backends/store.hpp"

int main() {
  auto store = cairn::open_store("");
  std::cout << "cart-42 on the in-memory store\n";
  for (auto [type, payload] : {std::pair{"carts.item_added", cairn::Json{{"sku", "tea"}, {"price", 4}}},
                               std::pair{"carts.item_added", cairn::Json{{"sku", "cups"}, {"price", 12}}},
                               std::pair{"carts.checked_out", cairn::Json::object()}}) {
    auto stored = store->append("cart-42", cairn::ExpectedSeq::any(), {cairn::make_message("cart-42", type, payload)});
    std::cout << "  appended #" << stored[0].seq << " " << type << " " << payload.dump() << "\n";
  }
  int total = 0;
  for (const auto& m : store->read_stream("cart-42")) total += m.payload.value("price", 0);
  std::cout << "rehydrated: total " << total << "\n";
}
