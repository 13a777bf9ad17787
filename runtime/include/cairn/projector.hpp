// State-stored projectors: a read model kept as one JSON state per key (on any backend), each
// event applied exactly once, keyed by anything (an order's user id, a day, ...).
//
//   auto user_orders = cairn::state_projector<UserOrders>("delivery.user_orders");
//   user_orders->on<OrderCreated>(
//       [](const OrderCreated& e, const cairn::Message&) { return e.user_id; },              // the key
//       [](UserOrders& view, const OrderCreated& e, const cairn::Message&) { view.orders.push_back(e.order_id); });
//   ...
//   auto view = runtime.projection<UserOrders>("delivery.user_orders", "user-7");
//
// An evolve function may also return a KeyView: `cairn::drop_key` removes the key from the read
// model (a member who returned every book), `cairn::keep_key` keeps it. A later event for a
// dropped key starts again from a default State.
//   members->on<BookReturned>(member_of, [](Loans& view, const BookReturned& e, const cairn::Message&) {
//     std::erase(view.books, e.book_id);
//     return view.books.empty() ? cairn::drop_key : cairn::keep_key;
//   });
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <unordered_map>

#include <cairn/consumer.hpp>

namespace cairn {

// What a state-stored projector's evolve function does with its key's view.
enum class KeyView { keep, drop };
inline constexpr KeyView keep_key = KeyView::keep;
inline constexpr KeyView drop_key = KeyView::drop;

template <class State>
class StateProjector final : public ConsumerBase<StateProjector<State>> {
  using Base = ConsumerBase<StateProjector<State>>;

 public:
  explicit StateProjector(std::string group) : Base(std::move(group)) {}

  // For events of type E: which key they update, and how.
  template <TypedMessage E, class Key, class Evolve>
  StateProjector& on(Key key, Evolve evolve) {
    static_assert(std::is_invocable_r_v<std::string, Key, const E&, const Message&>,
                  "the key function must be callable as std::string(const Event&, const Message&)");
    static_assert(std::is_invocable_v<Evolve, State&, const E&, const Message&>,
                  "evolve must be callable as void(State&, const Event&, const Message&)");
    using Result = std::invoke_result_t<Evolve, State&, const E&, const Message&>;
    static_assert(std::is_void_v<Result> || std::is_same_v<Result, KeyView>,
                  "evolve returns void (the key stays) or a cairn::KeyView (cairn::keep_key, cairn::drop_key)");
    this->reads(MessageTraits<E>::name);
    handlers_[MessageTraits<E>::name] = {
        [key](const Message& m) { return std::string(key(from_payload<E>(m.payload), m)); },
        [evolve](State& state, const Message& m) {
          if constexpr (std::is_void_v<Result>) {
            evolve(state, from_payload<E>(m.payload), m);
            return KeyView::keep;
          } else {
            return evolve(state, from_payload<E>(m.payload), m);
          }
        }};
    return *this;
  }
  bool records_progress() const override { return true; }

  void handle(Store& store, ConsumerServices&, const Message& event, const Delivery& delivery) override {
    if (auto key = key_of(event))
      store.update_projection(*key, delivery.mark(this->options_.group, event), this->options_.types,
                              [&](Json current) { return next_view(std::move(current), event); });
  }

  // What an event does, without a store (the runtime and the test kit share these): the key it
  // updates (none for a type it does not read), and that key's next view from its current one
  // (null: none yet). A null result drops the key.
  std::optional<std::string> key_of(const Message& event) const {
    auto it = handlers_.find(event.type);
    if (it == handlers_.end()) return std::nullopt;
    return it->second.key(event);
  }
  Json next_view(Json current, const Message& event) const {
    State state = current.is_null() ? State{} : current.get<State>();
    return handlers_.at(event.type).evolve(state, event) == KeyView::drop ? Json() : Json(state);
  }

  void reset(Store& store) override { store.clear_projections(this->options_.group); }

 private:
  struct Handler {
    std::function<std::string(const Message&)> key;
    std::function<KeyView(State&, const Message&)> evolve;
  };
  std::unordered_map<std::string, Handler> handlers_;
};

template <class State>
std::shared_ptr<StateProjector<State>> state_projector(std::string group) {
  return std::make_shared<StateProjector<State>>(std::move(group));
}

}  // namespace cairn
