#include "actors/stream_work.hpp"

#include <algorithm>
#include <thread>
#include <tuple>

#include <cairn/errors.hpp>

namespace cairn {
namespace {

bool reads(const ConsumerOptions& options, const std::string& type) {
  return options.types.empty() || std::find(options.types.begin(), options.types.end(), type) != options.types.end();
}

// Events at or before the replay boundary are re-deliveries after a reset.
bool replayed(const GroupState& group, const FeedCursor& cursor) { return !(group.replay_until < cursor); }

// What a handler threw, whatever it was: user code may throw anything.
std::string describe(const std::exception_ptr& error) {
  try {
    std::rethrow_exception(error);
  } catch (const std::exception& e) {
    return e.what();
  } catch (...) {
    return "a non-standard exception (not derived from std::exception)";
  }
}

// A stream's events after `after_seq`, read from the stream itself: for a resumed (or skipped)
// stream, the feed went past the ones that arrived while it was stopped; after a StreamGap, the
// feed skipped some. Up to its last queued event (or the stream's head when none is queued), so
// nothing after comes before them.
std::vector<FeedEntry> catch_up_events(const RunnerContext& context, const StreamJob& job, int64_t after_seq) {
  std::optional<int64_t> upto;
  if (!job.events.empty()) upto = job.events.back().message.seq;
  std::vector<FeedEntry> out;
  for_each_message(*context.store, job.stream_id, {after_seq, upto, std::nullopt}, [&](Message&& m) {
    if (reads(context.consumer->options(), m.type)) out.push_back({std::move(m), job.slice_cursor});
  });
  return out;
}

// One attempt at a stream's events from `handled` on at once (those on the same side of the
// replay boundary). Returns the seq handled up to: `handled` as it was if the batch failed, and
// the caller then goes event by event, with retries, to find the event that fails.
int64_t handle_as_batch(const RunnerContext& context, const GroupState& group, const StreamJob& job,
                        std::vector<FeedEntry>& entries, int64_t handled) {
  DeliveryBatch batch;
  std::optional<bool> replaying;
  try {
    for (auto& entry : entries) {
      if (entry.message.seq <= handled) continue;
      if (replaying && *replaying != replayed(group, entry.cursor)) break;
      replaying = replayed(group, entry.cursor);
      context.services->types().upcast(entry.message);
      batch.events.push_back(entry.message);
    }
    if (batch.events.size() < 2) return handled;
    batch.replaying = *replaying;
    batch.marks.push_back({group.group_id, job.stream_id, batch.events.back().seq, job.fence, job.check_skipped});
    context.consumer->handle_batch(*context.store, *context.services, batch);
    job.metrics.handled->inc(static_cast<double>(batch.events.size()));
    return batch.events.back().seq;
  } catch (...) {
    return handled;  // a lost lease included: the event-by-event pass finds out and says so
  }
}

// A transactional consumer's unit as one batch across its streams (one commit for all of them),
// replayed events first. On failure the streams go one by one. Moves `handled` to what was applied.
void handle_across_streams(const RunnerContext& context, Unit& unit, std::vector<int64_t>& handled) {
  for (bool replaying : {true, false}) {
    DeliveryBatch batch{{}, {}, replaying};
    std::vector<std::tuple<size_t, int64_t, size_t>> reached;  // stream index, seq, events
    try {
      for (size_t i = 0; i < unit.streams.size(); ++i) {
        auto& job = unit.streams[i];
        if (job.progress && (job.progress->stopped || is_resumed(job.progress))) continue;
        int64_t last = 0;
        size_t events = 0;
        for (auto& entry : job.events) {
          if (entry.message.seq <= handled[i]) continue;
          // Only the stream's next events, and only those on this pass's side of the boundary: a
          // replayed one the first pass left alone must not be jumped over by the second.
          if (replayed(unit.group, entry.cursor) != replaying) break;
          context.services->types().upcast(entry.message);
          batch.events.push_back(entry.message);
          last = entry.message.seq;
          ++events;
        }
        if (last == 0) continue;
        batch.marks.push_back({unit.group.group_id, job.stream_id, last, job.fence, job.check_skipped});
        reached.push_back({i, last, events});
      }
      if (batch.events.size() < 2) continue;
      context.consumer->handle_batch(*context.store, *context.services, batch);
    } catch (...) {
      return;
    }
    for (auto [i, seq, events] : reached) {
      handled[i] = seq;
      unit.streams[i].metrics.handled->inc(static_cast<double>(events));
    }
  }
}

// Handles one stream's events in order from `handled` on: retries a failing event with backoff,
// then stops the stream for this group (recording why) so the others keep flowing. A lost lease
// ends it with what was handled before. Throws LeaseLost, or a store error, when recording a
// failure or a resumed stream's catch-up failed.
StreamOutcome handle_stream(const RunnerContext& context, const GroupState& group, StreamJob& job, int64_t handled) {
  auto& consumer = *context.consumer;
  StreamOutcome out{job.stream_id};
  int64_t done = job.progress ? job.progress->seq : 0;
  handled = std::max(handled, done);
  out.handled = handled;
  if (job.progress && job.progress->stopped) {
    out.stopped = true;  // its events wait for a resume
    return out;
  }
  bool resumed = is_resumed(job.progress);
  std::vector<FeedEntry> caught_up;
  if (resumed) caught_up = catch_up_events(context, job, job.progress->seq);
  // The job's own events stay in the job: the runner takes back those not handled.
  auto* events = resumed ? &caught_up : &job.events;
  bool gap_read = false;  // once: a second gap is not the feed's doing
  auto mark = [&] { return ProgressMark{group.group_id, job.stream_id, handled, job.fence}; };
  auto finish = [&] {
    out.handled = handled;
    if (handled > done && !consumer.records_progress()) out.mark = mark();
  };
  if (consumer.handles_batches()) handled = handle_as_batch(context, group, job, *events, handled);
  auto policy = retry_policy(context);
  for (size_t next = 0; next < events->size(); ++next) {
    auto& entry = (*events)[next];
    auto& event = entry.message;
    if (event.seq <= handled) continue;  // already handled before a restart (or a duplicate)
    Delivery delivery{replayed(group, entry.cursor), job.fence, job.check_skipped};
    for (int attempt = 1;; ++attempt) {
      std::exception_ptr error;
      try {
        context.services->types().upcast(event);  // consumers see the current revision, like actors
        consumer.handle(*context.store, *context.services, event, delivery);
        handled = event.seq;
        job.metrics.handled->inc();
        break;
      } catch (const StreamGap& gap) {
        if (gap_read || gap.stream() != job.stream_id) {
          error = std::current_exception();
        } else {
          context.log({.level = LogLevel::warn,
                       .message = "group " + group.group_id + ": " + gap.what() + "; reading them from the stream",
                       .group = group.group_id,
                       .stream_id = job.stream_id,
                       .seq = event.seq});
          gap_read = true;
          handled = gap.after_seq();
          caught_up = catch_up_events(context, job, handled);
          events = &caught_up;
          next = static_cast<size_t>(-1);  // the loop's increment makes it the first caught-up event
          break;
        }
      } catch (const LeaseLost&) {
        finish();  // what came before it was handled under the lease
        out.complete = false;
        out.lease_lost = true;
        return out;
      } catch (const Unavailable&) {
        // Not the event's fault: no attempt counts; the runner tries the stream again after a backoff.
        finish();
        out.complete = false;
        return out;
      } catch (...) {
        error = std::current_exception();
      }
      job.metrics.failures->inc();
      // The event's context as fields of their own, for logs read by machines.
      auto record = [&](LogLevel level, std::string message) {
        return LogRecord{.level = level,
                         .message = std::move(message),
                         .group = group.group_id,
                         .stream_id = job.stream_id,
                         .seq = event.seq,
                         .message_id = event.id,
                         .correlation_id = metadata_string(event.metadata, "correlation_id")};
      };
      if (attempt < policy.max_attempts && !context.stopping->load())
        context.log(record(LogLevel::warn, "group " + group.group_id + ": stream " + job.stream_id + " seq " +
                                               std::to_string(event.seq) + " failed (attempt " +
                                               std::to_string(attempt) + " of " +
                                               std::to_string(policy.max_attempts) + "): " + describe(error)));
      if (attempt >= policy.max_attempts || context.stopping->load()) {
        finish();
        if (attempt < policy.max_attempts) {
          out.complete = false;
          return out;
        }
        auto why = describe(error);
        context.store->stop_stream(group.group_id, {job.stream_id, handled, true, event.seq, event.id, why, attempt},
                                   job.fence);
        context.log(record(LogLevel::error, "group " + group.group_id + " stopped stream " + job.stream_id +
                                                " at seq " + std::to_string(event.seq) + " after " +
                                                std::to_string(attempt) + " attempts: " + why));
        out.stopped = true;
        return out;
      }
      std::this_thread::sleep_for(policy.delay(attempt));
    }
  }
  finish();
  if (resumed) {
    // Saved now, not with the cursor: once the failure is cleared, nothing brings these events back.
    if (out.mark) context.store->mark_handled(*out.mark);
    out.mark.reset();
    context.store->clear_failure(group.group_id, job.stream_id, job.fence);
    out.caught_up = true;
    context.log({.level = LogLevel::info,
                 .message = "group " + group.group_id + " caught up resumed stream " + job.stream_id + " to seq " +
                            std::to_string(handled),
                 .group = group.group_id,
                 .stream_id = job.stream_id,
                 .seq = handled});
  }
  return out;
}

// handle_stream, with what went wrong around the handler turned into the outcome.
StreamOutcome handle_claimed(const RunnerContext& context, const GroupState& group, StreamJob& job, int64_t handled) {
  try {
    return handle_stream(context, group, job, handled);
  } catch (const LeaseLost&) {
    StreamOutcome lost{job.stream_id, handled};
    lost.complete = false;
    lost.lease_lost = true;
    return lost;
  } catch (...) {
    // Recording a failure failed (the database is away): the runner tries the stream again later.
    context.log({.level = LogLevel::warn,
                 .message = "group " + group.group_id + " stream " + job.stream_id + ": " +
                            describe(std::current_exception()),
                 .group = group.group_id,
                 .stream_id = job.stream_id});
    StreamOutcome failed{job.stream_id, handled};
    failed.complete = false;
    return failed;
  }
}

std::vector<StreamOutcome> handle_unit(const RunnerContext& context, Unit& unit) {
  std::vector<int64_t> handled;
  for (const auto& job : unit.streams) handled.push_back(job.progress ? job.progress->seq : 0);
  std::vector<StreamOutcome> out;
  size_t none_claimed = 0;
  // A transactional consumer claims the whole unit at once: its streams share one transaction.
  if (context.consumer->handles_batches() && unit.next.compare_exchange_strong(none_claimed, unit.streams.size())) {
    handle_across_streams(context, unit, handled);
    for (size_t i = 0; i < unit.streams.size(); ++i)
      out.push_back(handle_claimed(context, unit.group, unit.streams[i], handled[i]));
    return out;
  }
  for (size_t i; (i = unit.next.fetch_add(1)) < unit.streams.size();)
    out.push_back(handle_claimed(context, unit.group, unit.streams[i], handled[i]));
  return out;
}

}  // namespace

bool is_resumed(const std::optional<StreamProgress>& progress) {
  return progress && !progress->stopped && progress->failed_seq > 0;
}

RetryPolicy retry_policy(const RunnerContext& context) {
  const auto& options = context.options;
  return context.consumer->options().retry.value_or(
      RetryPolicy{options.max_attempts, options.backoff_base, options.backoff_max});
}

void stream_handler(caf::blocking_actor* self, std::shared_ptr<const RunnerContext> context) {
  bool running = true;
  self->receive_while(running)(
      [&](run_atom, std::shared_ptr<Unit>& unit) {
        auto outcomes = handle_unit(*context, *unit);
        self->send(caf::actor_cast<caf::actor>(self->current_sender()), done_atom::value,
                   UnitDone{unit, std::move(outcomes)});
      },
      [&](stop_atom) { running = false; });
}

}  // namespace cairn
