// Rebuilding an actor's state from its stream: latest snapshot (when usable) plus the messages after it.
#pragma once

#include <any>

#include <cairn/store.hpp>
#include <cairn/actor_definition.hpp>

namespace cairn {

struct Rehydrated {
  std::any state;
  int64_t seq = 0;  // the last seq folded in
};

// Folds one stored message into the state: upcast, then the actor's evolve for its type (if any).
void apply(const ActorSpec& spec, const TypeRegistry& types, Rehydrated& current, Message message);

// The state up to `range` (all of it by default), read a page at a time (for_each_message). A
// snapshot is used only for unbounded loads.
Rehydrated rehydrate(const ActorSpec& spec, const TypeRegistry& types, Store& store, const std::string& stream_id,
                     const StreamRange& range = {});

// Continues a state with what was appended after it (after a conflict: a few); returns those messages.
std::vector<Message> catch_up(const ActorSpec& spec, const TypeRegistry& types, Store& store, const std::string& stream_id,
                              Rehydrated& current);

}  // namespace cairn
