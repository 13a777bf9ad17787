// The test kit for application code: an actor's decide, evolve and react run alone, with no CAF
// and no store, microseconds per case. A failed expectation throws SpecificationFailed, which any
// test framework reports with its text.
//
//   cairn::testing::spec(bank::account_actor())
//       .given(bank::AccountOpened{"ann"}, bank::Deposited{100})
//       .when(bank::Withdraw{150})
//       .then_rejected("insufficient_funds", "the balance is 100");   // the code, and a part of the text
//
//   cairn::testing::spec(cart_actor())
//       .given(CheckedOut{})
//       .reacting_to(CheckedOut{})
//       .then_sends(cairn::send("order-1", PlaceOrder{}));
//
//   cairn::testing::spec(food::user_orders_projector())          // state-stored or event-sourced
//       .given("order-1", food::OrderCreated{"o1", "user-7"})
//       .then_view("user-7", food::UserOrders{{"o1"}});
#pragma once

#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <cairn/actor_definition.hpp>
#include <cairn/projector.hpp>
#include <cairn/stream_projector.hpp>

namespace cairn::testing {

class SpecificationFailed : public std::logic_error {
 public:
  using std::logic_error::logic_error;
};

namespace detail {

inline std::string show(const std::vector<Draft>& drafts) {
  if (drafts.empty()) return "  (none)\n";
  std::string out;
  for (const auto& d : drafts) out += "  " + d.type + " " + d.payload.dump() + "\n";
  return out;
}

inline std::string show(const Commands& commands) {
  if (commands.empty()) return "  (none)\n";
  std::string out;
  for (const auto& c : commands) {
    out += "  to " + c.stream_id + ": " + c.command.type + " " + c.command.payload.dump();
    if (c.due_at) out += " at " + format_time(*c.due_at);
    if (c.delay.count() != 0) out += " after " + std::to_string(c.delay.count()) + " us";
    out += "\n";
  }
  return out;
}

inline bool same(const Draft& a, const Draft& b) {
  return a.type == b.type && a.revision == b.revision && a.payload == b.payload;
}

inline bool same(const OutgoingCommand& a, const OutgoingCommand& b) {
  return a.stream_id == b.stream_id && same(a.command, b.command) && a.due_at == b.due_at && a.delay == b.delay;
}

}  // namespace detail

// Given the events already in a stream, when a command is decided, then these events, a rejection
// or nothing; or, reacting to an event, then these commands.
template <class State>
class ActorSpecification {
 public:
  explicit ActorSpecification(const ActorDefinition<State>& actor, std::string stream_id = "")
      : spec_(actor.spec()), stream_id_(stream_id.empty() ? spec_.stream_prefix + "test" : std::move(stream_id)),
        state_(spec_.initial(stream_id_)) {}

  // Events already in the stream, folded with the actor's evolve functions, in order.
  template <TypedMessage... Es>
  ActorSpecification& given(const Es&... events) {
    (evolve(Draft::of(events)), ...);
    return *this;
  }

  // The command to decide against the state so far; its events are folded into the state.
  template <TypedMessage C>
  ActorSpecification& when(const C& command) {
    auto name = std::string(MessageTraits<C>::name);
    auto decider = spec_.deciders.find(name);
    if (decider == spec_.deciders.end()) fail("actor " + spec_.name + " has no decide for " + name);
    auto message = envelope(Draft::of(command));
    spec_.command_checks.at(name)(message.payload);
    decision_ = decider->second(spec_, state_, message);
    decided_ = true;
    if (!decision_.rejected())
      for (const auto& event : decision_.drafts()) evolve(event);
    return *this;
  }

  // The events decide produced, compared by type, revision and payload, in order.
  template <TypedMessage... Es>
  ActorSpecification& then(const Es&... expected) {
    std::vector<Draft> want{Draft::of(expected)...};
    require_decided();
    if (decision_.rejected())
      fail("expected events:\n" + detail::show(want) + "but the command was " + shown_rejection());
    const auto& got = decision_.drafts();
    bool equal = got.size() == want.size();
    for (size_t i = 0; equal && i < got.size(); ++i) equal = detail::same(got[i], want[i]);
    if (!equal) fail("expected events:\n" + detail::show(want) + "but decide produced:\n" + detail::show(got));
    return *this;
  }

  // A rejection whose text contains `text` (any rejection when empty), whatever its code.
  ActorSpecification& then_rejected(std::string_view text = {}) {
    require_decided();
    if (!decision_.rejected()) fail("expected a rejection, but decide produced:\n" + detail::show(decision_.drafts()));
    if (decision_.rejection().find(text) == std::string::npos)
      fail("expected a rejection containing '" + std::string(text) + "', but it was " + shown_rejection());
    return *this;
  }
  // A rejection with exactly this code, whose text contains `text` (any text when empty):
  // .then_rejected("insufficient_funds", "the balance is 100").
  ActorSpecification& then_rejected(std::string_view code, std::string_view text) {
    then_rejected();
    if (decision_.rejection_code() != code)
      fail("expected a rejection with code '" + std::string(code) + "', but it was " + shown_rejection());
    return then_rejected(text);
  }

  // Accepted, with no event.
  ActorSpecification& then_nothing() {
    require_decided();
    if (decision_.rejected()) fail("expected no events, but the command was " + shown_rejection());
    if (!decision_.drafts().empty()) fail("expected no events, but decide produced:\n" + detail::show(decision_.drafts()));
    return *this;
  }

  // The commands the actor's react handler sends for `event` (stored in this stream).
  template <TypedMessage E>
  ActorSpecification& reacting_to(const E& event) {
    auto name = std::string(MessageTraits<E>::name);
    auto reactor = spec_.reactors.find(name);
    sent_ = reactor == spec_.reactors.end() ? Commands{} : reactor->second(envelope(Draft::of(event)));
    reacted_ = true;
    return *this;
  }

  // Exactly these commands, in order: stream, type, revision, payload and due time.
  template <class... Cs>
  ActorSpecification& then_sends(const Cs&... expected) {
    Commands want{expected...};
    if (!reacted_) fail("then_sends needs reacting_to(event) first");
    bool equal = sent_.size() == want.size();
    for (size_t i = 0; equal && i < sent_.size(); ++i) equal = detail::same(sent_[i], want[i]);
    if (!equal) fail("expected commands:\n" + detail::show(want) + "but react sent:\n" + detail::show(sent_));
    return *this;
  }

  // The state after the given events and the decided ones.
  const State& state() const { return std::any_cast<const State&>(state_); }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw SpecificationFailed("actor " + spec_.name + " on " + stream_id_ + ": " + what);
  }
  std::string shown_rejection() const {
    return "rejected (" + decision_.rejection_code() + "): " + decision_.rejection();
  }
  void require_decided() const {
    if (!decided_) fail("then needs when(command) first");
  }
  Message envelope(const Draft& draft) {
    Message m = make_message(stream_id_, draft.type, draft.payload, Json::object(), draft.revision);
    m.seq = ++seq_;
    return m;
  }
  void evolve(const Draft& event) {
    auto message = envelope(event);
    auto evolver = spec_.evolvers.find(event.type);
    if (evolver != spec_.evolvers.end()) evolver->second(state_, message);
  }

  ActorSpec spec_;
  std::string stream_id_;
  std::any state_;
  int64_t seq_ = 0;
  Decision decision_;
  bool decided_ = false;
  Commands sent_;
  bool reacted_ = false;
};

template <class State>
ActorSpecification<State> spec(const ActorDefinition<State>& actor, std::string stream_id = "") {
  return ActorSpecification<State>(actor, std::move(stream_id));
}

// Given events in streams, then these views, for a state-stored (StateProjector) or event-sourced
// (StreamProjector) projector: the same key_of and next_view the runtime applies.
template <class State, class Projector>
class ProjectorSpecification {
 public:
  explicit ProjectorSpecification(std::shared_ptr<Projector> projector) : projector_(std::move(projector)) {}

  // The time the following events were stored at (their created_at; default: the epoch).
  ProjectorSpecification& at(Timestamp time) {
    time_ = time;
    return *this;
  }

  // Events appended to `stream_id`, in order, each applied as the projector's group would.
  template <TypedMessage... Es>
  ProjectorSpecification& given(const std::string& stream_id, const Es&... events) {
    (apply(stream_id, Draft::of(events)), ...);
    return *this;
  }

  // The view of `key` equals `expected` (compared as JSON).
  ProjectorSpecification& then_view(const std::string& key, const State& expected) {
    auto it = views_.find(key);
    if (it == views_.end()) fail("expected a view for '" + key + "', but there is none");
    if (it->second != Json(expected))
      fail("expected the view of '" + key + "' to be\n  " + Json(expected).dump() + "\nbut it is\n  " + it->second.dump());
    return *this;
  }

  // No view for `key`: never written, or dropped (cairn::drop_key).
  ProjectorSpecification& then_no_view(const std::string& key) {
    if (auto it = views_.find(key); it != views_.end())
      fail("expected no view for '" + key + "', but it is\n  " + it->second.dump());
    return *this;
  }

  std::optional<State> view(const std::string& key) const {
    auto it = views_.find(key);
    if (it == views_.end()) return std::nullopt;
    return it->second.template get<State>();
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw SpecificationFailed("projector " + projector_->options().group + ": " + what);
  }
  void apply(const std::string& stream_id, const Draft& draft) {
    Message event = make_message(stream_id, draft.type, draft.payload, Json::object(), draft.revision);
    event.seq = ++seqs_[stream_id];
    event.created_at = time_;
    auto key = projector_->key_of(event);
    if (!key) return;
    auto it = views_.find(*key);
    auto next = projector_->next_view(it == views_.end() ? Json() : it->second, event);
    if (next.is_null())
      views_.erase(*key);
    else
      views_[*key] = std::move(next);
  }

  std::shared_ptr<Projector> projector_;
  std::map<std::string, Json> views_;
  std::map<std::string, int64_t> seqs_;
  Timestamp time_{};
};

template <class State>
ProjectorSpecification<State, StateProjector<State>> spec(std::shared_ptr<StateProjector<State>> projector) {
  return ProjectorSpecification<State, StateProjector<State>>(std::move(projector));
}

template <class State>
ProjectorSpecification<State, StreamProjector<State>> spec(std::shared_ptr<StreamProjector<State>> projector) {
  return ProjectorSpecification<State, StreamProjector<State>>(std::move(projector));
}

}  // namespace cairn::testing
