// The supervisor actor: spawns stream actors on demand, routes the commands for streams not live, and passivates idle ones.
#pragma once

#include <list>
#include <memory>
#include <unordered_map>

#include "actors/directory.hpp"
#include "actors/stream_actor.hpp"

namespace cairn {

struct SupervisorOptions {
  std::chrono::milliseconds idle_timeout{std::chrono::minutes(5)};
  size_t max_live_actors = 100000;
};

struct SupervisorState {
  struct Live {
    stream_actor actor;
    std::list<const std::string*>::iterator lru;
    std::chrono::steady_clock::time_point last_used;  // by the supervisor; the directory has its own
  };
  std::unordered_map<std::string, Live> live;
  std::list<const std::string*> lru;  // keys of `live`, most recently used first
  // Streams whose actor is passivating: their new commands wait until it has stopped, so a
  // stream never has two actors and commands keep their arrival order.
  std::unordered_map<std::string, std::vector<HandleRequest>> draining;
  std::unordered_map<caf::actor_addr, std::string> stream_of;
  std::optional<caf::typed_response_promise<bool>> shutdown;
  static inline const char* name = "cairn.supervisor";
};

supervisor_actor::behavior_type supervisor(supervisor_actor::stateful_pointer<SupervisorState> self,
                                           std::shared_ptr<const StreamContext> context,
                                           std::shared_ptr<Directory> directory, SupervisorOptions options);

}  // namespace cairn
