// Food delivery: an order goes from created through payment, acceptance and delivery to done.
// One stream per order: "food_order-<order id>".
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <cairn/application.hpp>

namespace food {

struct Item {
  std::string name;
  int quantity = 1;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Item, name, quantity)

// Commands
struct CreateOrder {
  std::string user_id;
  std::string restaurant_id;
  std::vector<Item> items;
};
struct InitiatePayment {
  long amount_cents = 0;
};
struct ConfirmPayment {};
struct FailPayment {
  std::string reason;
};
struct AcceptOrder {};
struct StartDelivery {
  std::string courier;
};
struct CompleteDelivery {
  std::string code;  // the code the customer tells the courier
};
struct ConfirmDelivery {};

// Events
struct OrderCreated {
  std::string order_id;
  std::string user_id;
  std::string restaurant_id;
  std::vector<Item> items;
  std::string delivery_code;  // two digits
};
struct PaymentInitiated {
  long amount_cents = 0;
};
struct PaymentConfirmed {};
struct PaymentFailed {
  std::string reason;
};
struct OrderAccepted {};
struct DeliveryStarted {
  std::string courier;
};
struct DeliveryCompleted {};
struct OrderDelivered {};

enum class Payment { none, pending, confirmed, failed };
NLOHMANN_JSON_SERIALIZE_ENUM(Payment, {{Payment::none, "none"},
                                       {Payment::pending, "pending"},
                                       {Payment::confirmed, "confirmed"},
                                       {Payment::failed, "failed"}})

struct Order {
  std::string order_id;
  bool created = false;
  std::string user_id;
  std::string delivery_code;
  Payment payment = Payment::none;
  bool accepted = false;
  bool in_delivery = false;
  bool delivery_completed = false;
  bool delivered = false;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Order, order_id, created, user_id, delivery_code, payment, accepted, in_delivery,
                                   delivery_completed, delivered)

inline const std::string stream_prefix = "food_order-";
inline std::string stream_of(const std::string& order_id) { return stream_prefix + order_id; }

// Two digits derived from the order id (FNV-1a), so deciding stays a pure function.
inline std::string delivery_code_for(const std::string& order_id) {
  uint32_t hash = 2166136261u;
  for (unsigned char c : order_id) hash = (hash ^ c) * 16777619u;
  return std::to_string(10 + hash % 90);
}

}  // namespace food

CAIRN_MESSAGE(food::CreateOrder, "food.create_order", 1, user_id, restaurant_id, items)
CAIRN_MESSAGE(food::InitiatePayment, "food.initiate_payment", 1, amount_cents)
CAIRN_MESSAGE(food::ConfirmPayment, "food.confirm_payment", 1)
CAIRN_MESSAGE(food::FailPayment, "food.fail_payment", 1, reason)
CAIRN_MESSAGE(food::AcceptOrder, "food.accept_order", 1)
CAIRN_MESSAGE(food::StartDelivery, "food.start_delivery", 1, courier)
CAIRN_MESSAGE(food::CompleteDelivery, "food.complete_delivery", 1, code)
CAIRN_MESSAGE(food::ConfirmDelivery, "food.confirm_delivery", 1)
CAIRN_MESSAGE(food::OrderCreated, "food.order_created", 1, order_id, user_id, restaurant_id, items, delivery_code)
CAIRN_MESSAGE(food::PaymentInitiated, "food.payment_initiated", 1, amount_cents)
CAIRN_MESSAGE(food::PaymentConfirmed, "food.payment_confirmed", 1)
CAIRN_MESSAGE(food::PaymentFailed, "food.payment_failed", 1, reason)
CAIRN_MESSAGE(food::OrderAccepted, "food.order_accepted", 1)
CAIRN_MESSAGE(food::DeliveryStarted, "food.delivery_started", 1, courier)
CAIRN_MESSAGE(food::DeliveryCompleted, "food.delivery_completed", 1)
CAIRN_MESSAGE(food::OrderDelivered, "food.order_delivered", 1)

namespace food {

inline cairn::ActorDefinition<Order> order_actor() {
  using cairn::Decision;
  using cairn::reject;
  return cairn::actor<Order>("food_order")
      .initial([](const std::string& stream_id) {
        Order order;
        order.order_id = stream_id.substr(stream_prefix.size());
        return order;
      })
      .decide<CreateOrder>([](const Order& o, const CreateOrder& c) -> Decision {
        if (o.created) return reject("order_exists", "order " + o.order_id + " already exists");
        if (c.user_id.empty()) return reject("user_id_missing", "user_id must not be empty");
        if (c.restaurant_id.empty()) return reject("restaurant_id_missing", "restaurant_id must not be empty");
        if (c.items.empty()) return reject("items_missing", "items must not be empty");
        for (const auto& item : c.items)
          if (item.quantity <= 0) return reject("quantity_not_positive", "items: the quantity of " + item.name + " must be positive");
        return OrderCreated{o.order_id, c.user_id, c.restaurant_id, c.items, delivery_code_for(o.order_id)};
      })
      .decide<InitiatePayment>([](const Order& o, const InitiatePayment& c) -> Decision {
        if (!o.created) return reject("no_order", "no order " + o.order_id);
        if (c.amount_cents <= 0) return reject("amount_not_positive", "amount_cents must be positive");
        if (o.payment == Payment::pending || o.payment == Payment::confirmed)
          return reject("payment_in_progress", "the order is already being paid");  // a failed payment may be retried
        return PaymentInitiated{c.amount_cents};
      })
      .decide<ConfirmPayment>([](const Order& o, const ConfirmPayment&) -> Decision {
        if (o.payment != Payment::pending) return reject("no_payment_pending", "no payment is pending");
        return PaymentConfirmed{};
      })
      .decide<FailPayment>([](const Order& o, const FailPayment& c) -> Decision {
        if (o.payment != Payment::pending) return reject("no_payment_pending", "no payment is pending");
        return PaymentFailed{c.reason};
      })
      .decide<AcceptOrder>([](const Order& o, const AcceptOrder&) -> Decision {
        if (o.payment != Payment::confirmed) return reject("order_not_paid", "the order is not paid");
        if (o.accepted) return reject("order_already_accepted", "the order is already accepted");
        return OrderAccepted{};
      })
      .decide<StartDelivery>([](const Order& o, const StartDelivery& c) -> Decision {
        if (!o.accepted) return reject("order_not_accepted", "the restaurant has not accepted the order");
        if (o.in_delivery) return reject("delivery_already_started", "the delivery has already started");
        if (c.courier.empty()) return reject("courier_missing", "courier must not be empty");
        return DeliveryStarted{c.courier};
      })
      .decide<CompleteDelivery>([](const Order& o, const CompleteDelivery& c) -> Decision {
        if (!o.in_delivery) return reject("delivery_not_started", "the delivery has not started");
        if (o.delivery_completed) return reject("delivery_already_completed", "the delivery is already completed");
        if (c.code != o.delivery_code) return reject("wrong_delivery_code", "wrong delivery code");
        return DeliveryCompleted{};
      })
      .decide<ConfirmDelivery>([](const Order& o, const ConfirmDelivery&) -> Decision {
        if (!o.delivery_completed) return reject("delivery_not_completed", "the delivery is not completed");
        if (o.delivered) return reject("order_already_delivered", "the order is already delivered");
        return OrderDelivered{};
      })
      .evolve<OrderCreated>([](Order& o, const OrderCreated& e) {
        o.created = true;
        o.user_id = e.user_id;
        o.delivery_code = e.delivery_code;
      })
      .evolve<PaymentInitiated>([](Order& o, const PaymentInitiated&) { o.payment = Payment::pending; })
      .evolve<PaymentConfirmed>([](Order& o, const PaymentConfirmed&) { o.payment = Payment::confirmed; })
      .evolve<PaymentFailed>([](Order& o, const PaymentFailed&) { o.payment = Payment::failed; })
      .evolve<OrderAccepted>([](Order& o, const OrderAccepted&) { o.accepted = true; })
      .evolve<DeliveryStarted>([](Order& o, const DeliveryStarted&) { o.in_delivery = true; })
      .evolve<DeliveryCompleted>([](Order& o, const DeliveryCompleted&) { o.delivery_completed = true; })
      .evolve<OrderDelivered>([](Order& o, const OrderDelivered&) { o.delivered = true; });
}

}  // namespace food
