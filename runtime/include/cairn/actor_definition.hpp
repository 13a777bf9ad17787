// Defining an actor: initial state, decide per command, evolve per event, react per event.
//
//   auto cart = cairn::actor<Cart>("cart")            // owns the streams "cart-..."
//     .decide<AddItem>([](const Cart& cart, const AddItem& c) -> cairn::Decision {
//        if (cart.checked_out) return cairn::reject("the cart is checked out");
//        return ItemAdded{c.sku, c.quantity};
//      })
//     .decide<Checkout>([](cairn::Multi<Cart>& cart, const Checkout&) {   // several events, each seeing the last
//        if (cart.state().items.empty()) return cart.reject("cart_empty", "the cart is empty");
//        cart.emit(CheckedOut{cart.state().total()});
//        if (cart.state().total() > 100) cart.emit(FreeShippingGranted{});
//      })
//     .evolve<ItemAdded>([](Cart& cart, const ItemAdded& e) { cart.items[e.sku] += e.quantity; })
//     .react<CheckedOut>([](const CheckedOut& e) { return cairn::Commands{cairn::send("order-1", PlaceOrder{})}; })
//     .snapshot_every(50);
#pragma once

#include <any>
#include <functional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <unordered_map>
#include <vector>

#include <cairn/decision.hpp>
#include <cairn/type_registry.hpp>

namespace cairn {

// The type-erased form the runtime executes; ActorDefinition<State> builds it.
struct ActorSpec {
  // Gets the actor it belongs to, so that a Multi decision can apply the actor's evolvers.
  using Decider = std::function<Decision(const ActorSpec& actor, const std::any& state, const Message& command)>;
  using Evolver = std::function<void(std::any& state, const Message& event)>;
  using Reactor = std::function<Commands(const Message& event)>;
  using PayloadCheck = std::function<void(const Json& payload)>;  // throws BadInput naming the field

  std::string name;
  std::string stream_prefix;  // streams whose id starts with this belong to the actor
  std::function<std::any(const std::string& stream_id)> initial;
  std::unordered_map<std::string, Decider> deciders;
  std::unordered_map<std::string, PayloadCheck> command_checks;
  std::unordered_map<std::string, Evolver> evolvers;
  std::unordered_map<std::string, Reactor> reactors;
  std::function<Json(const std::any& state)> state_to_json;
  std::function<std::any(const Json& json)> state_from_json;
  int snapshot_every = 0;  // 0: never
  int state_revision = 1;  // snapshots of another revision are ignored
  std::vector<TypeInfo> types;
};

// A decision of several events that sees the state each one produces (Commanded's Multi): decide
// takes a Multi<State>& instead of the state, and each emit() applies the actor's own evolve to a
// working copy of the state, the same evolve that later folds the stored events. The result is one
// Decision: every emitted event, or, after reject(), none.
template <class State>
class Multi {
 public:
  Multi(const Multi&) = delete;  // a copy's events would be lost
  Multi& operator=(const Multi&) = delete;

  // The state after the events emitted so far: a reference that follows each emit.
  const State& state() const { return std::any_cast<const State&>(state_); }

  template <TypedMessage E>
  Multi& emit(const E& event) {
    require_open("emit");
    auto draft = Draft::of(event);
    if (auto evolver = actor_.evolvers.find(draft.type); evolver != actor_.evolvers.end()) {
      Message envelope;
      envelope.stream_id = stream_id_;
      envelope.type = draft.type;
      envelope.revision = draft.revision;
      envelope.payload = draft.payload;
      evolver->second(state_, envelope);
    }
    decision_.events_.push_back(std::move(draft));
    return *this;
  }

  // Refuses the command: the events emitted so far are dropped. Use as `return multi.reject(...);`.
  void reject(std::string code, std::string text) {
    require_open("reject");
    decision_ = Decision::reject(std::move(code), std::move(text));
  }
  void reject(std::string text) { reject(default_rejection_code, std::move(text)); }
  bool rejected() const { return decision_.rejected(); }

 private:
  template <class>
  friend class ActorDefinition;
  Multi(const ActorSpec& actor, const std::any& state, std::string stream_id)
      : actor_(actor), state_(state), stream_id_(std::move(stream_id)) {}
  void require_open(const char* what) const {
    if (decision_.rejected())
      throw std::logic_error(std::string("Multi: ") + what + " after reject (a rejected decision has no events)");
  }

  const ActorSpec& actor_;
  std::any state_;  // a copy: the stream's state changes only once the events are stored
  std::string stream_id_;
  Decision decision_;
};

template <class State>
class ActorDefinition {
  static_assert(std::is_copy_constructible_v<State>, "an actor's state must be copyable");

 public:
  explicit ActorDefinition(std::string name) {
    spec_.stream_prefix = name + "-";
    spec_.name = std::move(name);
    spec_.initial = [](const std::string&) { return std::any(State{}); };
    spec_.state_to_json = [](const std::any& state) { return Json(std::any_cast<const State&>(state)); };
    spec_.state_from_json = [](const Json& json) { return std::any(json.get<State>()); };
  }

  // The state of a new stream, from its id. Default: State{}.
  template <class F>
  ActorDefinition& initial(F f) {
    static_assert(std::is_invocable_r_v<State, F, const std::string&>,
                  "initial must be callable as State(const std::string& stream_id)");
    spec_.initial = [f](const std::string& stream_id) { return std::any(State(f(stream_id))); };
    return *this;
  }

  // Decision(const State&, const Command&), or void(cairn::Multi<State>&, const Command&) for a
  // decision of several events that each see the state the ones before them produce.
  template <TypedMessage Command, class F>
  ActorDefinition& decide(F f) {
    constexpr bool single = std::is_invocable_r_v<Decision, F, const State&, const Command&>;
    constexpr bool multi = [] {  // void only: a Decision it returned would be dropped
      if constexpr (std::is_invocable_v<F, Multi<State>&, const Command&>)
        return std::is_void_v<std::invoke_result_t<F, Multi<State>&, const Command&>>;
      return false;
    }();
    static_assert(single || multi,
                  "decide must be callable as Decision(const State&, const Command&) or "
                  "void(cairn::Multi<State>&, const Command&)");
    add_type<Command>(MessageKind::command);
    spec_.deciders[MessageTraits<Command>::name] = [f]([[maybe_unused]] const ActorSpec& actor, const std::any& state,
                                                       const Message& command) {
      if constexpr (single) {
        return Decision(f(std::any_cast<const State&>(state), from_payload<Command>(command.payload)));
      } else {
        Multi<State> decision(actor, state, command.stream_id);
        f(decision, from_payload<Command>(command.payload));
        return std::move(decision.decision_);
      }
    };
    spec_.command_checks[MessageTraits<Command>::name] = [](const Json& payload) { from_payload<Command>(payload); };
    return *this;
  }

  // Either mutates the state, void(State&, const Event&), or returns the next one, State(const State&, const Event&).
  template <TypedMessage Event, class F>
  ActorDefinition& evolve(F f) {
    constexpr bool mutating = std::is_invocable_r_v<void, F, State&, const Event&>;
    constexpr bool pure = std::is_invocable_r_v<State, F, const State&, const Event&>;
    static_assert(mutating || pure,
                  "evolve must be callable as void(State&, const Event&) or State(const State&, const Event&)");
    add_type<Event>(MessageKind::event);
    spec_.evolvers[MessageTraits<Event>::name] = [f](std::any& state, const Message& event) {
      auto& current = std::any_cast<State&>(state);
      if constexpr (pure && !mutating)
        current = f(std::as_const(current), from_payload<Event>(event.payload));
      else
        f(current, from_payload<Event>(event.payload));
    };
    return *this;
  }

  // Commands to send when an event is appended: Commands(const Event&) or Commands(const Event&, const Message&).
  template <TypedMessage Event, class F>
  ActorDefinition& react(F f) {
    constexpr bool plain = std::is_invocable_r_v<Commands, F, const Event&>;
    constexpr bool with_envelope = std::is_invocable_r_v<Commands, F, const Event&, const Message&>;
    static_assert(plain || with_envelope,
                  "react must be callable as Commands(const Event&) or Commands(const Event&, const Message&)");
    add_type<Event>(MessageKind::event);
    spec_.reactors[MessageTraits<Event>::name] = [f](const Message& event) {
      if constexpr (with_envelope)
        return Commands(f(from_payload<Event>(event.payload), event));
      else
        return Commands(f(from_payload<Event>(event.payload)));
    };
    return *this;
  }

  // Registers a type this actor sends (e.g. a command its reactions dispatch) without handling it.
  template <TypedMessage T>
  ActorDefinition& uses(MessageKind kind) {
    add_type<T>(kind);
    return *this;
  }

  // A snapshot whenever the stream's seq crosses a multiple of `messages`. Commands are stored in
  // the stream too and rehydration reads past them, so this counts what a reload reads: with one
  // event per command, 50 means a snapshot every 25 commands. Bump `state_revision` when State changes.
  ActorDefinition& snapshot_every(int messages, int state_revision = 1) {
    spec_.snapshot_every = messages;
    spec_.state_revision = state_revision;
    return *this;
  }

  // Streams whose id starts with `prefix` belong to this actor (default: "<name>-").
  ActorDefinition& streams(std::string prefix) {
    spec_.stream_prefix = std::move(prefix);
    return *this;
  }

  const ActorSpec& spec() const { return spec_; }

 private:
  template <TypedMessage T>
  void add_type(MessageKind kind) {
    spec_.types.push_back({MessageTraits<T>::name, MessageTraits<T>::revision, kind});
  }

  ActorSpec spec_;
};

template <class State>
ActorDefinition<State> actor(std::string name) {
  return ActorDefinition<State>(std::move(name));
}

}  // namespace cairn
