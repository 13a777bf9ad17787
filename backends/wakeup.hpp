// Wakeup: the signal that the log grew, so idle consumer-group runners read it now rather than at their next poll.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>

namespace cairn {

// Wakes idle runners: when this process appended something, or another process said it did
// (LISTEN/NOTIFY); polling remains the fallback.
class Wakeup {
 public:
  // This process wrote to the log: wake local runners and ask the notifier to tell other processes.
  void appended() {
    publish_.store(true);
    notify();
  }
  bool take_publish() { return publish_.exchange(false); }
  void notify() {
    {
      std::lock_guard lock(mutex_);
      ++epoch_;
    }
    changed_.notify_all();
  }
  uint64_t epoch() {
    std::lock_guard lock(mutex_);
    return epoch_;
  }
  void wait(uint64_t seen, std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    changed_.wait_for(lock, timeout, [&] { return epoch_ != seen; });
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  uint64_t epoch_ = 0;
  std::atomic<bool> publish_{false};
};

}  // namespace cairn
