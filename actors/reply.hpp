// A command's way back to its caller: the actor that finishes the command answers the caller's future directly.
#pragma once

#include <future>
#include <memory>

#include <cairn/handle_result.hpp>

namespace cairn {

// Copies share one answer. The first answer counts. A command dropped unanswered (its actor
// stopped, the runtime shut down) is answered with a failure when its last copy goes, so no caller
// waits forever. `hold` lives until then (the runtime counts commands in flight with it). A
// default-constructed Reply is unset until the runtime gives the command its own.
class Reply {
 public:
  Reply() = default;
  explicit Reply(std::shared_ptr<void> hold);
  std::future<HandleResult> future();
  void operator()(HandleResult result) const;

 private:
  struct State;
  std::shared_ptr<State> state_;
};

}  // namespace cairn
