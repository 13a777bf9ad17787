// cairn-demo: the shopping cart on the embedded (in-memory) runtime, told as a story.
#include <iostream>

#include "examples/carts/cart.hpp"
#include "runtime/runtime.hpp"

namespace {

void show(cairn::Runtime& runtime, const std::string& stream, const cairn::Message& command) {
  std::cout << "> " << stream << "  " << command.type << " " << command.payload.dump() << "\n";
  auto result = runtime.handle(stream, command);
  if (!result.ok()) {
    std::cout << "  rejected: " << result.error << "\n";
    return;
  }
  for (const auto& event : result.events)
    std::cout << "  #" << event.seq << " " << event.type << " " << event.payload.dump() << "\n";
  std::cout << "  state: " << runtime.state_json(stream).dump() << "\n";
}

template <class C>
cairn::Message command(const std::string& stream, const C& c) {
  return cairn::Runtime::make_command(stream, c, cairn::Json::object());
}

}  // namespace

int main() {
  cairn::Runtime runtime;  // in memory; pass Config{.database_url = ...} for PostgreSQL
  runtime.add(carts::cart_actor()).add(orders::order_actor());

  std::cout << "A shopping cart, cart-42, on the in-memory store\n\n";
  show(runtime, "cart-42", command("cart-42", carts::AddItem{"tea", 2, 450}));
  show(runtime, "cart-42", command("cart-42", carts::AddItem{"cups", 1, 1200}));
  show(runtime, "cart-42", command("cart-42", carts::RemoveItem{"spoons"}));
  show(runtime, "cart-42", command("cart-42", carts::RemoveItem{"cups"}));
  show(runtime, "cart-42", command("cart-42", carts::Checkout{}));
  show(runtime, "cart-42", command("cart-42", carts::AddItem{"cake", 1, 300}));

  std::cout << "\nTime travel: cart-42 as of seq 4 (before cups were removed)\n  "
            << runtime.state_json("cart-42", {0, 4, std::nullopt}).dump() << "\n";
  auto what_if = runtime.what_if<carts::Cart>("cart-42", {cairn::Draft::of(carts::ItemAdded{"cake", 3, 300})});
  std::cout << "What if three cakes had been added too? total " << what_if.total_cents() << " cents (nothing stored)\n";

  std::cout << "\nThe log of cart-42:\n";
  for (const auto& m : runtime.store().read_stream("cart-42"))
    std::cout << "  " << m.seq << "  " << m.type << " " << m.payload.dump() << "\n";
}
