// The live stream actors by stream id: callers send a command straight to its stream's live actor.
#pragma once

#include <atomic>
#include <chrono>
#include <shared_mutex>
#include <string>
#include <unordered_map>

#include "actors/protocol.hpp"

namespace cairn {

// The supervisor alone adds and removes actors; callers look them up. What keeps one caller's
// commands to a stream in the order it sent them:
// - a caller sends under the shared lock, and the supervisor removes an actor under the exclusive
//   lock before it tells the actor to passivate, so a command sent straight to an actor is in its
//   mailbox before the passivate message;
// - while any command for the stream is on its way through the supervisor, later ones take the
//   same way, so none overtakes it; the supervisor adds an actor only after sending it what it
//   was spawned for.
class Directory {
 public:
  using Clock = std::chrono::steady_clock;

  // Sends `request` straight to its stream's actor (noting the use), or returns false: the caller
  // must then send it to the supervisor, which calls `routed` once it has dealt with it.
  bool send(HandleRequest& request);
  void routed(const std::string& stream_id);
  void add(const std::string& stream_id, stream_actor actor);
  void remove(const std::string& stream_id);
  // When a command was last sent straight to the stream's actor (the epoch if never, or not live).
  Clock::time_point last_sent(const std::string& stream_id) const;

 private:
  struct Stream {
    stream_actor actor;  // null: not live
    std::atomic<Clock::rep> last_sent{0};
    size_t via_supervisor = 0;  // its commands on their way through the supervisor
  };
  using Streams = std::unordered_map<std::string, Stream>;  // node-based: a Stream never moves
  void forget_if_unused(Streams::iterator it);

  mutable std::shared_mutex mutex_;
  Streams streams_;
};

}  // namespace cairn
