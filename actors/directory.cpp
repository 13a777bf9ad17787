#include "actors/directory.hpp"

#include <mutex>

namespace cairn {

bool Directory::send(HandleRequest& request) {
  {
    std::shared_lock lock(mutex_);
    auto it = streams_.find(request.stream_id);
    if (it != streams_.end() && it->second.actor && it->second.via_supervisor == 0) {
      it->second.last_sent.store(Clock::now().time_since_epoch().count(), std::memory_order_relaxed);
      caf::anon_send(it->second.actor, handle_atom::value, std::move(request));
      return true;
    }
  }
  std::unique_lock lock(mutex_);
  ++streams_.try_emplace(request.stream_id).first->second.via_supervisor;
  return false;
}

void Directory::routed(const std::string& stream_id) {
  std::unique_lock lock(mutex_);
  auto it = streams_.find(stream_id);
  if (it == streams_.end()) return;
  --it->second.via_supervisor;
  forget_if_unused(it);
}

void Directory::add(const std::string& stream_id, stream_actor actor) {
  std::unique_lock lock(mutex_);
  streams_.try_emplace(stream_id).first->second.actor = std::move(actor);
}

void Directory::remove(const std::string& stream_id) {
  std::unique_lock lock(mutex_);
  auto it = streams_.find(stream_id);
  if (it == streams_.end()) return;
  it->second.actor = nullptr;
  it->second.last_sent = 0;
  forget_if_unused(it);
}

Directory::Clock::time_point Directory::last_sent(const std::string& stream_id) const {
  std::shared_lock lock(mutex_);
  auto it = streams_.find(stream_id);
  if (it == streams_.end()) return {};
  return Clock::time_point(Clock::duration(it->second.last_sent.load(std::memory_order_relaxed)));
}

void Directory::forget_if_unused(Streams::iterator it) {
  if (!it->second.actor && it->second.via_supervisor == 0) streams_.erase(it);
}

}  // namespace cairn
