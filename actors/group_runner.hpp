// The group runner: one per consumer group in a process. It owns its fair share of the group's
// slices through fenced leases, reads the gap-safe feed once for all of them, and hands each
// stream's events to stream handlers that run concurrently; each slice's cursor follows the
// contiguous low-water mark of what they handled.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>

#include <caf/all.hpp>

#include "runtime/consumer.hpp"

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

struct RunnerOptions {
  size_t batch_size = 500;
  std::chrono::milliseconds poll_interval{100};
  size_t stream_handlers = 4;  // streams of one group handled concurrently
  int max_attempts = 5;        // then the (group, stream) stops
  std::chrono::milliseconds backoff_base{20};
  std::chrono::milliseconds backoff_max{2000};
  std::chrono::milliseconds stall_timeout{60000};  // a runner silent this long loses its leases
};

struct RunnerContext {
  Store* store = nullptr;
  ConsumerServices* services = nullptr;
  std::shared_ptr<Consumer> consumer;
  std::string owner;  // who holds the lease, for `cairn status`
  RunnerOptions options;
  std::shared_ptr<Wakeup> wakeup;
  std::shared_ptr<std::atomic<bool>> stopping;
  std::function<void(const std::string&)> log;
};

// A blocking (detached) CAF actor: it returns once `stopping` is set, after its stream handlers
// finished what they had, its progress is saved and its leases released.
void group_runner(caf::blocking_actor* self, std::shared_ptr<const RunnerContext> context);

}  // namespace cairn
