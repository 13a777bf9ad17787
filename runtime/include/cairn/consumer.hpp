// Consumers: what a consumer group runs for each event it reads from the log.
#pragma once

#include <algorithm>
#include <chrono>
#include <functional>
#include <optional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include <cairn/store.hpp>
#include <cairn/decision.hpp>
#include <cairn/handle_result.hpp>
#include <cairn/read_model_table.hpp>
#include <cairn/type_registry.hpp>

namespace cairn {

// How often a failing event is tried before its stream stops for the group, and how long to wait
// between tries (doubling from `backoff_base` up to `backoff_max`).
struct RetryPolicy {
  int max_attempts = 5;
  std::chrono::milliseconds backoff_base{20};
  std::chrono::milliseconds backoff_max{2000};
  std::chrono::milliseconds delay(int attempt) const {
    return std::min(backoff_max, backoff_base * (1 << std::clamp(attempt - 1, 0, 16)));
  }
};

struct ConsumerOptions {
  std::string group;                // the consumer group id (durable progress is kept under it)
  std::vector<std::string> types;   // the event types it reads
  uint32_t slice_count = 4;         // processes share a group slice by slice
  StartFrom start = StartFrom::beginning();
  bool side_effect = false;         // at least once, and never while replaying
  std::optional<RetryPolicy> retry;  // none: the worker's (WorkerOptions)
  // What a process running this consumer brings to its group (the types sorted, as stored).
  GroupShape shape() const {
    GroupShape shape{slice_count, types};
    std::sort(shape.types.begin(), shape.types.end());
    return shape;
  }
};

// How an event reaches a consumer: as a re-delivery after a reset or not, and under which lease.
struct Delivery {
  bool replaying = false;
  Fence fence;  // every progress write for this event carries it: it fails once the slice changed owners
  bool check_skipped = false;  // see ProgressMark
  ProgressMark mark(const std::string& group, const Message& event) const {
    return {group, event.stream_id, event.seq, fence, check_skipped};
  }
};

// Events of several streams handed to a consumer at once (each stream's in seq order, all on the
// same side of a reset's replay boundary), with the mark each stream reaches once they are applied.
struct DeliveryBatch {
  std::vector<Message> events;
  std::vector<ProgressMark> marks;  // one per stream, each with its slice's fence
  bool replaying = false;
};

// What the runtime offers consumers: sending commands and delivering stored ones to stream actors.
class ConsumerServices {
 public:
  virtual ~ConsumerServices() = default;
  // Appends (or schedules) the commands a reaction to `cause` produced; ids derive from the cause,
  // so a re-delivered event sends the same commands and the store keeps one copy.
  virtual void send_commands(const std::string& group, const Message& cause, const Commands& commands) = 0;
  // Hands a dispatched command (already in the log) to its stream actor.
  virtual HandleResult deliver(const Message& command, const ProgressMark& mark) = 0;
  // The application's message types: events a consumer reads itself are upcast with them.
  virtual const TypeRegistry& types() const = 0;
};

class Consumer {
 public:
  virtual ~Consumer() = default;
  virtual const ConsumerOptions& options() const = 0;
  // Handles one event; throwing makes the runner retry, then stop this stream for the group.
  virtual void handle(Store& store, ConsumerServices& services, const Message& event, const Delivery& delivery) = 0;
  // True when `handle` records the stream's progress itself (in its own transaction).
  virtual bool records_progress() const { return false; }
  // Consumers that can apply the events of several streams at once (e.g. in one transaction)
  // return true and implement handle_batch. A failing batch is retried stream by stream, then
  // event by event, so a poison event still stops exactly its own stream at that event.
  virtual bool handles_batches() const { return false; }
  virtual void handle_batch(Store&, ConsumerServices&, const DeliveryBatch&) {}
  // Called by `cairn reset` before history is re-delivered (e.g. to empty a read model).
  virtual void reset(Store&) {}
  // The tables of its read model, if it keeps one in the database: `cairn migrate --app` creates
  // them as the schema owner and `cairn grants` lets workers write them, so workers never run DDL.
  virtual std::vector<ReadModelTable> read_model_tables() const { return {}; }
  // Throws BadInput when a reset would leave a read model that a replay then doubles.
  virtual void require_resettable() const {}
};

// The options every kind of consumer lets its builder set.
template <class Derived>
class ConsumerBase : public Consumer {
 public:
  const ConsumerOptions& options() const override { return options_; }
  Derived& slices(uint32_t count) {
    options_.slice_count = count;
    return static_cast<Derived&>(*this);
  }
  // Where a new group starts: StartFrom::beginning() (default), ::now() (the current head) or
  // ::after(cursor) (a cursor from `cairn feed`). An existing group keeps its progress.
  Derived& start(StartFrom from) {
    options_.start = from;
    return static_cast<Derived&>(*this);
  }
  // This consumer's own retry policy, instead of the worker's, e.g. retry({.max_attempts = 10}).
  Derived& retry(RetryPolicy policy) {
    options_.retry = policy;
    return static_cast<Derived&>(*this);
  }

 protected:
  explicit ConsumerBase(std::string group) { options_.group = std::move(group); }
  // Registers the event type a handler is for (the feed is filtered to these).
  void reads(const std::string& type) { options_.types.push_back(type); }
  ConsumerOptions options_;
};

// Side effects (e-mail, HTTP calls): at least once, with (stream_id, seq) to deduplicate, not on replay.
class SideEffectHandler final : public ConsumerBase<SideEffectHandler> {
 public:
  using Handler = std::function<void(const Message& event)>;
  explicit SideEffectHandler(std::string group) : ConsumerBase(std::move(group)) { options_.side_effect = true; }

  template <TypedMessage E, class F>
  SideEffectHandler& on(F f) {
    static_assert(std::is_invocable_v<F, const E&, const Message&>,
                  "a side-effect handler must be callable as void(const Event&, const Message&)");
    reads(MessageTraits<E>::name);
    handlers_[MessageTraits<E>::name] = [f](const Message& m) { f(from_payload<E>(m.payload), m); };
    return *this;
  }

  void handle(Store&, ConsumerServices&, const Message& event, const Delivery& delivery) override {
    if (delivery.replaying) return;
    auto it = handlers_.find(event.type);
    if (it != handlers_.end()) it->second(event);
  }

 private:
  std::unordered_map<std::string, Handler> handlers_;
};

inline std::shared_ptr<SideEffectHandler> side_effect(std::string group) {
  return std::make_shared<SideEffectHandler>(std::move(group));
}

}  // namespace cairn
