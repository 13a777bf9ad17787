// Event-sourced projectors: one view per stream, the fold of that stream's events (the ones the
// projector reads), kept with the seq it is at and saved with the group's progress, exactly once,
// on any backend.
//
//   auto summary = cairn::stream_projector<CartSummary>("carts.summary");
//   summary->on<ItemAdded>([](CartSummary& s, const ItemAdded& e, const cairn::Message&) { s.items += e.quantity; });
//   ...
//   auto view = runtime.projection<CartSummary>("carts.summary", "cart-42");
//
// Each event evolves the stored view of its stream: a stream is never re-read, so catching up is
// linear however many streams there are, and an event skipped by an operator (`cairn skip`) stays
// out of the view. A reset rebuilds every view from the log.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>

#include <cairn/consumer.hpp>

namespace cairn {

template <class State>
class StreamProjector final : public ConsumerBase<StreamProjector<State>> {
  using Base = ConsumerBase<StreamProjector<State>>;

 public:
  explicit StreamProjector(std::string group) : Base(std::move(group)) {}

  template <TypedMessage E, class Evolve>
  StreamProjector& on(Evolve evolve) {
    static_assert(std::is_invocable_v<Evolve, State&, const E&, const Message&>,
                  "evolve must be callable as void(State&, const Event&, const Message&)");
    this->reads(MessageTraits<E>::name);
    evolvers_[MessageTraits<E>::name] = [evolve](State& state, const Message& m) {
      evolve(state, from_payload<E>(m.payload), m);
    };
    return *this;
  }
  bool records_progress() const override { return true; }

  void handle(Store& store, ConsumerServices&, const Message& event, const Delivery& delivery) override {
    // The stream's mark is the view's seq: both are written in one transaction.
    if (auto key = key_of(event))
      store.update_projection(*key, delivery.mark(this->options_.group, event), this->options_.types,
                              [&](Json current) { return next_view(std::move(current), event); });
  }

  // As for a state-stored projector: the key is the event's stream, when the projector reads its type.
  std::optional<std::string> key_of(const Message& event) const {
    if (!evolvers_.count(event.type)) return std::nullopt;
    return event.stream_id;
  }
  Json next_view(Json current, const Message& event) const {
    State state = current.is_null() ? State{} : current.get<State>();
    evolvers_.at(event.type)(state, event);
    return Json(state);
  }

  void reset(Store& store) override { store.clear_projections(this->options_.group); }

 private:
  std::unordered_map<std::string, std::function<void(State&, const Message&)>> evolvers_;
};

template <class State>
std::shared_ptr<StreamProjector<State>> stream_projector(std::string group) {
  return std::make_shared<StreamProjector<State>>(std::move(group));
}

}  // namespace cairn
