// cairn-demo: the food delivery example on the embedded (in-memory) runtime, told as a story:
// each command, the events it produced, the order's state and the read models.
#include <iostream>

#include "../food_delivery/projections.hpp"

namespace {

using cairn::Runtime;

void show_projections(Runtime& runtime, const std::string& order_id, int64_t seq) {
  auto status = food::delivery_status(runtime, order_id, seq);  // waits for the projector to catch up
  std::cout << "  delivery status: " << (status ? cairn::Json(*status).dump() : "(not caught up)") << "\n";
}

template <class C>
void step(Runtime& runtime, const std::string& order_id, const C& command) {
  auto stream = food::stream_of(order_id);
  auto message = cairn::make_command(stream, command);
  std::cout << "\n> " << stream << "  " << message.type << " " << message.payload.dump() << "\n";
  auto result = runtime.handle(stream, message);
  if (!result.ok()) {
    std::cout << "  rejected (" << result.rejection_code << "): " << result.error << "\n";
    return;
  }
  for (const auto& event : result.events)
    std::cout << "  #" << event.seq << " " << event.type << " " << event.payload.dump() << "\n";
  std::cout << "  state: " << runtime.state_json(stream).dump() << "\n";
  show_projections(runtime, order_id, result.seq);
}

}  // namespace

int main() {
  Runtime runtime;  // in memory; pass Config{.database_url = ...} for PostgreSQL
  food::install(runtime.app());
  cairn::WorkerOptions workers;
  workers.log = [](const cairn::LogRecord&) {};
  runtime.start_consumers(workers);  // the projectors run in this process

  std::cout << "Food delivery on the in-memory store: ann orders pizza (order o-1)\n";
  step(runtime, "o-1", food::CreateOrder{"ann", "luigi", {{"margherita", 2}, {"tiramisu", 1}}});
  step(runtime, "o-1", food::AcceptOrder{});
  step(runtime, "o-1", food::InitiatePayment{2350});
  step(runtime, "o-1", food::FailPayment{"card declined"});
  step(runtime, "o-1", food::InitiatePayment{2350});
  step(runtime, "o-1", food::ConfirmPayment{});
  step(runtime, "o-1", food::AcceptOrder{});
  step(runtime, "o-1", food::StartDelivery{"bo"});
  step(runtime, "o-1", food::CompleteDelivery{"00"});
  step(runtime, "o-1", food::CompleteDelivery{food::delivery_code_for("o-1")});
  step(runtime, "o-1", food::ConfirmDelivery{});
  std::cout << "\nann orders again (o-2), from another restaurant\n";
  step(runtime, "o-2", food::CreateOrder{"ann", "mario", {{"ramen", 1}}});

  std::cout << "\nRead models (each read waits until its projector has o-2's order)\n";
  for (const auto& group : {food::user_orders_group, food::restaurant_board_group})
    runtime.wait_for(group, food::stream_of("o-2"), 2);
  std::cout << "  orders of ann: "
            << cairn::Json(*runtime.projection<food::UserOrders>(food::user_orders_group, "ann")).dump() << "\n";
  // A page of a projector's views in key order: what `cairn projection GROUP` prints on PostgreSQL.
  std::cout << "  every restaurant board (cairn projection " << food::restaurant_board_group << "):\n";
  for (const auto& board : runtime.store().list_projections(food::restaurant_board_group, "", 10))
    std::cout << "    " << board.key << "  " << board.state.dump() << "\n";

  std::cout << "\nTime travel: o-1 as of seq 10 (paid, not yet accepted)\n  "
            << runtime.state_json(food::stream_of("o-1"), {0, 10, std::nullopt}).dump() << "\n";
  auto what_if = runtime.what_if<food::Order>(food::stream_of("o-2"), {cairn::Draft::of(food::PaymentInitiated{990})});
  std::cout << "What if o-2's payment had started? payment = " << cairn::Json(what_if.payment).dump()
            << " (nothing stored)\n";

  std::cout << "\nThe log of o-1:\n";
  for (const auto& m : runtime.store().read_stream(food::stream_of("o-1")))
    std::cout << "  " << m.seq << "  " << m.type << " " << m.payload.dump() << "\n";
  runtime.shutdown();
}
