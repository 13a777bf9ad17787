// Food delivery read models: each order's delivery status, each user's orders, each restaurant's
// board; and a status query that reads its own writes.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "order.hpp"
#include <cairn/projector.hpp>
#include <cairn/runtime.hpp>
#include <cairn/stream_projector.hpp>

namespace food {

// Per order (event-sourced: the fold of the order's stream): placed → preparing → collected → delivered → done.
struct DeliveryStatus {
  std::string order_id;
  std::string status;
  std::string changed_at;  // when the last event the view shows happened
  std::string delivery_code;
  Payment payment = Payment::none;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(DeliveryStatus, order_id, status, changed_at, delivery_code, payment)

// Per user id (state-stored: many order streams feed one user's view).
struct UserOrders {
  std::vector<std::string> order_ids;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(UserOrders, order_ids)

// Per restaurant id.
struct RestaurantBoard {
  long orders = 0;
  long items = 0;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(RestaurantBoard, orders, items)

inline const std::string delivery_status_group = "food.delivery_status";
inline const std::string user_orders_group = "food.user_orders";
inline const std::string restaurant_board_group = "food.restaurant_board";

inline std::shared_ptr<cairn::StreamProjector<DeliveryStatus>> delivery_status_projector() {
  auto projector = cairn::stream_projector<DeliveryStatus>(delivery_status_group);
  auto status_becomes = [](const char* status) {
    return [status](DeliveryStatus& view, const auto&, const cairn::Message& m) {
      view.status = status;
      view.changed_at = cairn::format_time(m.created_at);
    };
  };
  auto payment_becomes = [](Payment payment) {
    return [payment](DeliveryStatus& view, const auto&, const cairn::Message& m) {
      view.payment = payment;
      view.changed_at = cairn::format_time(m.created_at);
    };
  };
  projector->on<OrderCreated>([](DeliveryStatus& view, const OrderCreated& e, const cairn::Message& m) {
    view.order_id = e.order_id;
    view.delivery_code = e.delivery_code;
    view.status = "placed";
    view.changed_at = cairn::format_time(m.created_at);
  });
  projector->on<PaymentInitiated>(payment_becomes(Payment::pending))
      .on<PaymentConfirmed>(payment_becomes(Payment::confirmed))
      .on<PaymentFailed>(payment_becomes(Payment::failed))
      .on<OrderAccepted>(status_becomes("preparing"))
      .on<DeliveryStarted>(status_becomes("collected"))
      .on<DeliveryCompleted>(status_becomes("delivered"))
      .on<OrderDelivered>(status_becomes("done"));
  return projector;
}

inline std::shared_ptr<cairn::StateProjector<UserOrders>> user_orders_projector() {
  auto projector = cairn::state_projector<UserOrders>(user_orders_group);
  projector->on<OrderCreated>([](const OrderCreated& e, const cairn::Message&) { return e.user_id; },
                              [](UserOrders& view, const OrderCreated& e, const cairn::Message&) {
                                view.order_ids.push_back(e.order_id);
                              });
  return projector;
}

inline std::shared_ptr<cairn::StateProjector<RestaurantBoard>> restaurant_board_projector() {
  auto projector = cairn::state_projector<RestaurantBoard>(restaurant_board_group);
  projector->on<OrderCreated>([](const OrderCreated& e, const cairn::Message&) { return e.restaurant_id; },
                              [](RestaurantBoard& view, const OrderCreated& e, const cairn::Message&) {
                                view.orders += 1;
                                for (const auto& item : e.items) view.items += item.quantity;
                              });
  return projector;
}

// The order's status as of the caller's last write to it (e.g. `handle(...).seq`): waits for the
// projection to catch up first. Nullopt if it has not within `timeout` (or there is no such order).
inline std::optional<DeliveryStatus> delivery_status(cairn::Runtime& runtime, const std::string& order_id,
                                                     int64_t last_write_seq,
                                                     std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
  if (!runtime.wait_for(delivery_status_group, stream_of(order_id), last_write_seq, timeout)) return std::nullopt;
  return runtime.projection<DeliveryStatus>(delivery_status_group, stream_of(order_id));
}

inline void install(cairn::Application& app) {
  app.add(order_actor())
      .add(delivery_status_projector())
      .add(user_orders_projector())
      .add(restaurant_board_projector());
}

}  // namespace food
