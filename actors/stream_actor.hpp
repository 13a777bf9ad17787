// The stream actor: one live stream, rehydrated on first use, deciding commands strictly one at a time.
#pragma once

#include <functional>
#include <list>
#include <memory>
#include <optional>

#include "actors/actor_metrics.hpp"
#include "actors/protocol.hpp"
#include <cairn/application.hpp>
#include "actors/rehydrate.hpp"

namespace cairn {

class Writer;

// What every stream actor of a runtime shares (read-only once running).
struct StreamContext {
  const Application* app = nullptr;
  Store* store = nullptr;
  size_t max_queued_commands = 1000;
  const WritePathMetrics* metrics = nullptr;
  Writer* writer = nullptr;
};

struct StreamActorState {
  struct Pending {
    HandleRequest request;
    int64_t checked = 0;     // a stored command: the stream holds no answer to it up to this seq
    bool rejecting = false;  // a stored command: what is being appended is its rejection
    bool locked = false;     // decided again under the stream's write lock, after a conflict
    bool alone = false;      // its batch could not be appended: decided again on its own
    std::chrono::steady_clock::time_point received = std::chrono::steady_clock::now();
  };
  // Explicit stash: the front one is being decided or appended. A list, not a deque: an empty
  // deque still holds a ~600-byte block, and most live actors are idle with an empty queue.
  std::list<Pending> queue;
  bool busy = false;
  bool passivating = false;
  std::optional<Rehydrated> current;  // empty until the first command (or after a failed read)
  std::function<void(Appended&)> on_appended;  // set while an append is in flight
  static inline const char* name = "cairn.stream";
};

stream_actor::behavior_type stream_actor_behavior(stream_actor::stateful_pointer<StreamActorState> self,
                                                  std::string stream_id, const ActorSpec* spec,
                                                  std::shared_ptr<const StreamContext> context);

}  // namespace cairn
