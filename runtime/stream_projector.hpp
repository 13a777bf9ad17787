// Event-sourced projectors: one view per stream, always the fold of that stream's history, saved
// (exactly once, on any backend) after each event it reads.
//
//   auto summary = cairn::stream_projector<CartSummary>("carts.summary");
//   summary->on<ItemAdded>([](CartSummary& s, const ItemAdded& e, const cairn::Message&) { s.items += e.quantity; });
//   ...
//   auto view = runtime.projection<CartSummary>("carts.summary", "cart-42");
//
// Unlike a state-stored projector (projector.hpp), the saved view never feeds the next update:
// the state comes from the log, so a view can't drift from it. A cache of recent streams' states
// keeps catch-up linear; a miss re-reads the stream from its start.
#pragma once

#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "runtime/consumer.hpp"

namespace cairn {

template <class State>
class StreamProjector final : public ConsumerBase<StreamProjector<State>> {
  using Base = ConsumerBase<StreamProjector<State>>;

 public:
  explicit StreamProjector(std::string group, size_t cached_streams = 10000)
      : Base(std::move(group)), capacity_(cached_streams) {}

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

  void handle(Store& store, ConsumerServices& services, const Message& event, bool) override {
    auto [state, seq] = cached(event.stream_id, event.seq);
    for (auto& m : store.read_stream(event.stream_id, {seq, event.seq, std::nullopt})) {
      auto it = evolvers_.find(m.type);
      if (it == evolvers_.end()) continue;
      services.types().upcast(m);
      it->second(state, m);
    }
    store.update_projection(event.stream_id, {this->options_.group, event.stream_id, event.seq},
                            [&](Json) { return Json(state); });
    remember(event.stream_id, event.seq, std::move(state));
  }

  void reset(Store& store) override {
    store.clear_projections(this->options_.group);
    std::lock_guard lock(mutex_);
    entries_.clear();
    recent_.clear();
  }

 private:
  struct Entry {
    int64_t seq;
    State state;
    std::list<std::string>::iterator recent;
  };

  // The latest known state of a stream before `seq` (and the seq it is at), or a fresh one.
  std::pair<State, int64_t> cached(const std::string& stream_id, int64_t seq) {
    std::lock_guard lock(mutex_);
    auto it = entries_.find(stream_id);
    if (it == entries_.end() || it->second.seq >= seq) return {State{}, 0};
    return {it->second.state, it->second.seq};
  }

  void remember(const std::string& stream_id, int64_t seq, State state) {
    std::lock_guard lock(mutex_);
    auto it = entries_.find(stream_id);
    if (it != entries_.end()) {
      recent_.erase(it->second.recent);
      entries_.erase(it);
    }
    recent_.push_front(stream_id);
    entries_.emplace(stream_id, Entry{seq, std::move(state), recent_.begin()});
    if (entries_.size() > capacity_) {
      entries_.erase(recent_.back());
      recent_.pop_back();
    }
  }

  std::unordered_map<std::string, std::function<void(State&, const Message&)>> evolvers_;
  size_t capacity_;
  std::mutex mutex_;
  std::unordered_map<std::string, Entry> entries_;
  std::list<std::string> recent_;  // most recently used first
};

template <class State>
std::shared_ptr<StreamProjector<State>> stream_projector(std::string group, size_t cached_streams = 10000) {
  return std::make_shared<StreamProjector<State>>(std::move(group), cached_streams);
}

}  // namespace cairn
