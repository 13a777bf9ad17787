#include "actors/reply.hpp"

#include <atomic>

namespace cairn {

struct Reply::State {
  std::promise<HandleResult> promise;
  std::atomic<bool> answered{false};
  std::shared_ptr<void> hold;

  ~State() {
    if (!answered)
      promise.set_value(HandleResult::failure(HandleResult::Status::failed,
                                              "the command was dropped before it was answered: its stream actor "
                                              "stopped, or the runtime shut down"));
  }
};

Reply::Reply(std::shared_ptr<void> hold) : state_(std::make_shared<State>()) { state_->hold = std::move(hold); }

std::future<HandleResult> Reply::future() { return state_->promise.get_future(); }

void Reply::operator()(HandleResult result) const {
  if (!state_->answered.exchange(true)) state_->promise.set_value(std::move(result));
}

}  // namespace cairn
