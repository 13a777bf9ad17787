// The food delivery example with the test kit: the order's rules in every step of its life, and
// its three read models (an order's status, a user's orders, a restaurant's board); no runtime.
#include <doctest/doctest.h>

#include <cairn/testing.hpp>

#include "examples/food_delivery/projections.hpp"

using cairn::testing::spec;
using namespace food;

namespace {

const std::string order_stream = stream_of("o-1");
const std::string code = delivery_code_for("o-1");

CreateOrder pizza_for(const std::string& user, const std::string& restaurant = "luigi") {
  return {user, restaurant, {{"margherita", 2}, {"tiramisu", 1}}};
}
OrderCreated pizza_created(const std::string& id, const std::string& user, const std::string& restaurant = "luigi") {
  return {id, user, restaurant, {{"margherita", 2}, {"tiramisu", 1}}, delivery_code_for(id)};
}

auto order() { return spec(order_actor(), order_stream); }
auto created() { return order().given(pizza_created("o-1", "ann")); }
auto paid() { return created().given(PaymentInitiated{2350}, PaymentConfirmed{}); }
auto accepted() { return paid().given(OrderAccepted{}); }
auto on_its_way() { return accepted().given(DeliveryStarted{"bo"}); }

}  // namespace

TEST_CASE("food: an order needs a user, a restaurant and items, and is created once") {
  order().when(CreateOrder{"", "luigi", {{"pizza", 1}}}).then_rejected("user_id_missing", "user_id must not be empty");
  order().when(CreateOrder{"ann", "", {{"pizza", 1}}}).then_rejected("restaurant_id_missing", "");
  order().when(CreateOrder{"ann", "luigi", {}}).then_rejected("items_missing", "items must not be empty");
  order()
      .when(CreateOrder{"ann", "luigi", {{"pizza", 0}}})
      .then_rejected("quantity_not_positive", "items: the quantity of pizza must be positive");
  order().when(pizza_for("ann")).then(pizza_created("o-1", "ann"));
  CHECK(code.size() == 2);
  created().when(pizza_for("ann")).then_rejected("order_exists", "order o-1 already exists");
}

TEST_CASE("food: payment starts on a created order, and a failed payment may be retried") {
  order().when(InitiatePayment{100}).then_rejected("no_order", "no order o-1");
  created().when(InitiatePayment{0}).then_rejected("amount_not_positive", "amount_cents must be positive");
  created().when(ConfirmPayment{}).then_rejected("no_payment_pending", "no payment is pending");
  auto paying = created();
  paying.when(InitiatePayment{2350}).then(PaymentInitiated{2350});
  paying.when(InitiatePayment{2350}).then_rejected("payment_in_progress", "the order is already being paid");
  paying.when(FailPayment{"card declined"}).then(PaymentFailed{"card declined"});
  paying.when(FailPayment{"again"}).then_rejected("no_payment_pending", "");
  paying.when(InitiatePayment{2350}).then(PaymentInitiated{2350});
  paying.when(ConfirmPayment{}).then(PaymentConfirmed{});
  CHECK(paying.state().payment == Payment::confirmed);
}

TEST_CASE("food: the restaurant accepts a paid order, a courier collects it, the code completes it") {
  created().when(AcceptOrder{}).then_rejected("order_not_paid", "the order is not paid");
  paid().when(StartDelivery{"bo"}).then_rejected("order_not_accepted", "the restaurant has not accepted the order");
  paid().when(AcceptOrder{}).then(OrderAccepted{});
  accepted().when(AcceptOrder{}).then_rejected("order_already_accepted", "the order is already accepted");
  accepted().when(StartDelivery{""}).then_rejected("courier_missing", "courier must not be empty");
  accepted().when(CompleteDelivery{code}).then_rejected("delivery_not_started", "the delivery has not started");
  accepted().when(StartDelivery{"bo"}).then(DeliveryStarted{"bo"});
  on_its_way().when(StartDelivery{"cy"}).then_rejected("delivery_already_started", "");
  on_its_way().when(CompleteDelivery{code == "10" ? "11" : "10"}).then_rejected("wrong_delivery_code", "wrong delivery code");
  on_its_way().when(ConfirmDelivery{}).then_rejected("delivery_not_completed", "the delivery is not completed");
  auto arriving = on_its_way();
  arriving.when(CompleteDelivery{code}).then(DeliveryCompleted{});
  arriving.when(CompleteDelivery{code}).then_rejected("delivery_already_completed", "");
  arriving.when(ConfirmDelivery{}).then(OrderDelivered{});
  arriving.when(ConfirmDelivery{}).then_rejected("order_already_delivered", "the order is already delivered");
  CHECK(arriving.state().delivered);
}

TEST_CASE("food: the delivery status follows the order, with the time of its last change") {
  const auto created_at = cairn::parse_time("2030-01-01T12:00:00Z"), paid_at = cairn::parse_time("2030-01-01T12:01:00Z");
  const auto accepted_at = cairn::parse_time("2030-01-01T12:05:00Z"), done_at = cairn::parse_time("2030-01-01T12:40:00Z");
  auto status = spec(delivery_status_projector());
  status.at(created_at).given(order_stream, pizza_created("o-1", "ann"));
  status.then_view(order_stream, {"o-1", "placed", "2030-01-01T12:00:00.000000Z", code, Payment::none});
  status.at(paid_at).given(order_stream, PaymentInitiated{2350}, PaymentConfirmed{});
  status.then_view(order_stream, {"o-1", "placed", "2030-01-01T12:01:00.000000Z", code, Payment::confirmed});
  status.at(accepted_at).given(order_stream, OrderAccepted{});
  status.then_view(order_stream, {"o-1", "preparing", "2030-01-01T12:05:00.000000Z", code, Payment::confirmed});
  status.at(done_at).given(order_stream, DeliveryStarted{"bo"}, DeliveryCompleted{}, OrderDelivered{});
  status.then_view(order_stream, {"o-1", "done", "2030-01-01T12:40:00.000000Z", code, Payment::confirmed});
  status.then_no_view(stream_of("o-2"));
}

TEST_CASE("food: many orders feed one user's list and one restaurant's board") {
  auto users = spec(user_orders_projector());
  auto boards = spec(restaurant_board_projector());
  struct Placed {
    std::string id, user, restaurant;
  };
  for (const auto& [id, user, restaurant] : {Placed{"o-1", "ann", "luigi"}, Placed{"o-2", "bo", "mario"}, Placed{"o-3", "ann", "mario"}}) {
    users.given(stream_of(id), pizza_created(id, user, restaurant), PaymentInitiated{100});
    boards.given(stream_of(id), pizza_created(id, user, restaurant), OrderAccepted{});
  }
  users.then_view("ann", {{"o-1", "o-3"}}).then_view("bo", {{"o-2"}}).then_no_view("cy");
  boards.then_view("luigi", {1, 3}).then_view("mario", {2, 6});
}
