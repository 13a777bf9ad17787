// The group runner: one per consumer group in a process. It owns its fair share of the group's
// slices through fenced leases, reads the gap-safe feed once for all of them, and hands each
// stream's events to stream handlers that run concurrently; each slice's cursor follows the
// contiguous low-water mark of what they handled.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include <caf/all.hpp>

#include <cairn/consumer.hpp>
#include <cairn/log.hpp>

#include "actors/actor_metrics.hpp"
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

// What a runner tells its process about its slices: whether it holds the leases it wants (/readyz).
class RunnerReport {
 public:
  explicit RunnerReport(std::string group) : group_(std::move(group)) {}
  // After a balance round: it holds `held` slices and wants at least `wanted` (its fair share,
  // rounded down); a paused group wants none.
  void balanced(size_t held, size_t wanted);
  void held(size_t held);
  // The group's stored shape refused this process's (another version runs it): the reason, or "".
  void refused(const std::string& reason);
  // Why the runner is not where it wants to be, or nothing.
  std::optional<std::string> problem() const;

 private:
  mutable std::mutex mutex_;
  std::string group_;
  bool balanced_ = false;
  size_t held_ = 0, wanted_ = 0;
  std::string refusal_;
};

struct RunnerContext {
  Store* store = nullptr;
  ConsumerServices* services = nullptr;
  std::shared_ptr<Consumer> consumer;
  std::string owner;  // who holds the lease, for `cairn status`
  RunnerOptions options;
  std::shared_ptr<Wakeup> wakeup;
  std::shared_ptr<std::atomic<bool>> stopping;
  LogSink log;
  std::shared_ptr<GroupMetrics> metrics;  // used by the runner's thread only
  std::shared_ptr<RunnerReport> report;
};

// A blocking (detached) CAF actor: it returns once `stopping` is set, after its stream handlers
// finished what they had, its progress is saved and its leases released.
void group_runner(caf::blocking_actor* self, std::shared_ptr<const RunnerContext> context);

}  // namespace cairn
