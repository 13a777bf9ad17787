#include "actors/rehydrate.hpp"

namespace cairn {

void apply(const ActorSpec& spec, const TypeRegistry& types, Rehydrated& current, Message message) {
  auto evolver = spec.evolvers.find(message.type);
  if (evolver != spec.evolvers.end()) {
    types.upcast(message);
    evolver->second(current.state, message);
  }
  current.seq = message.seq;
}

Rehydrated rehydrate(const ActorSpec& spec, const TypeRegistry& types, Store& store, const std::string& stream_id,
                     const StreamRange& range) {
  Rehydrated current{spec.initial(stream_id), 0};
  bool unbounded = !range.upto_seq && !range.upto_time && !range.limit && range.after_seq == 0;
  if (unbounded && spec.snapshot_every > 0) {
    auto snapshot = store.load_snapshot(stream_id);
    if (snapshot && snapshot->state_revision == spec.state_revision) {
      current.state = spec.state_from_json(snapshot->state);
      current.seq = snapshot->seq;
    }
  }
  StreamRange rest = range;
  rest.after_seq = current.seq;
  for_each_message(store, stream_id, rest, [&](Message&& message) { apply(spec, types, current, std::move(message)); });
  return current;
}

std::vector<Message> catch_up(const ActorSpec& spec, const TypeRegistry& types, Store& store,
                              const std::string& stream_id, Rehydrated& current) {
  std::vector<Message> messages;
  for_each_message(store, stream_id, {current.seq, std::nullopt, std::nullopt}, [&](Message&& message) {
    apply(spec, types, current, message);
    messages.push_back(std::move(message));
  });
  return messages;
}

}  // namespace cairn
