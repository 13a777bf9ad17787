// The group runner: one per consumer group in a process. It owns its fair share of the group's
// slices through fenced leases, reads the gap-safe feed once for all of them, and hands each
// stream's events to stream handlers that run concurrently; each slice's cursor follows the
// contiguous low-water mark of what they handled.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>

#include <caf/all.hpp>

#include <cairn/consumer.hpp>

#include "backends/wakeup.hpp"

namespace cairn {

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
