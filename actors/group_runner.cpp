#include "actors/group_runner.hpp"

#include <algorithm>
#include <optional>
#include <thread>
#include <unordered_map>

#include "runtime/errors.hpp"

namespace cairn {
namespace {

using run_atom = caf::atom_constant<caf::atom("run")>;
using stop_atom = caf::atom_constant<caf::atom("stop")>;

// What a runner holds while it owns its slice: the lease (whose fence every progress write
// carries), the group as last read, and the slice's cursor.
struct Owned {
  std::unique_ptr<SliceLease> lease;
  GroupState group;
  FeedCursor cursor;
  Fence fence() const { return lease->fence(); }
};

// The part of a batch one stream handler works on.
struct Assignment {
  GroupState group;
  Fence fence;
  FeedCursor cursor;  // the slice's cursor before the batch: events re-read from the stream sort at it
  struct Stream {
    std::string stream_id;
    std::vector<FeedEntry> events;  // from the feed, in seq order
    std::optional<StreamProgress> progress;
  };
  std::vector<Stream> streams;
};

// What a stream handler did with its share of a batch: the progress to save with the cursor.
struct Handled {
  bool complete = true;     // false: interrupted, the cursor must not move past this batch
  bool lease_lost = false;  // another process owns the slice now: drop it
  std::vector<ProgressMark> marks;
};

}  // namespace
}  // namespace cairn

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(cairn::Assignment)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(cairn::Handled)

namespace cairn {
namespace {

bool reads(const ConsumerOptions& options, const std::string& type) {
  return options.types.empty() || std::find(options.types.begin(), options.types.end(), type) != options.types.end();
}

RetryPolicy retry_policy(const RunnerContext& context) {
  const auto& options = context.options;
  return context.consumer->options().retry.value_or(
      RetryPolicy{options.max_attempts, options.backoff_base, options.backoff_max});
}

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

bool is_resumed(const std::optional<StreamProgress>& progress) {
  return progress && !progress->stopped && progress->failed_seq > 0;
}

// A resumed (or skipped) stream's events from its last handled one, read from the stream itself:
// the cursor went past the ones that arrived while it was stopped. Up to the batch's last event
// (or the stream's head when the batch has none), so nothing after comes before them.
std::vector<FeedEntry> catch_up_events(const RunnerContext& context, const Assignment& job,
                                       const Assignment::Stream& stream) {
  std::optional<int64_t> upto;
  if (!stream.events.empty()) upto = stream.events.back().message.seq;
  std::vector<FeedEntry> out;
  for (auto& m : context.store->read_stream(stream.stream_id, {stream.progress->seq, upto, std::nullopt}))
    if (reads(context.consumer->options(), m.type)) out.push_back({std::move(m), job.cursor});
  return out;
}

// One attempt at a stream's new events of this batch at once (those on the same side of the
// replay boundary). Returns the seq handled up to: `handled` as it was if the batch failed, and
// the caller then goes event by event, with retries, to find the event that fails.
int64_t handle_as_batch(const RunnerContext& context, const Assignment& job, std::vector<FeedEntry>& entries,
                        int64_t handled) {
  std::vector<Message> events;
  std::optional<bool> replaying;
  for (auto& entry : entries) {
    if (entry.message.seq <= handled) continue;
    bool replayed = !(job.group.replay_until < entry.cursor);
    if (replaying && *replaying != replayed) break;
    replaying = replayed;
    context.services->types().upcast(entry.message);
    events.push_back(entry.message);
  }
  if (events.size() < 2) return handled;
  try {
    context.consumer->handle_batch(*context.store, *context.services, events, {*replaying, job.fence});
    return events.back().seq;
  } catch (const LeaseLost&) {
    throw;
  } catch (...) {
    return handled;
  }
}

// Handles one stream's events in order: skips what was done, retries a failing event with
// backoff, then stops the stream for this group (recording why) so the others keep flowing.
// False when interrupted by shutdown before the stream was done: the cursor must not pass it.
// Throws LeaseLost.
bool handle_stream(const RunnerContext& context, const Assignment& job, Assignment::Stream& stream,
                   std::vector<ProgressMark>& marks) {
  auto& consumer = *context.consumer;
  const auto& group_id = job.group.group_id;
  if (stream.progress && stream.progress->stopped) return true;  // its events wait for a resume
  bool resumed = is_resumed(stream.progress);
  auto events = resumed ? catch_up_events(context, job, stream) : std::move(stream.events);
  int64_t done = stream.progress ? stream.progress->seq : 0;
  int64_t handled = done;
  auto mark = [&] { return ProgressMark{group_id, stream.stream_id, handled, job.fence}; };
  auto keep_progress = [&] {
    if (handled > done && !consumer.records_progress()) marks.push_back(mark());
  };
  if (consumer.handles_batches()) handled = handle_as_batch(context, job, events, handled);
  auto policy = retry_policy(context);
  for (auto& entry : events) {
    auto& event = entry.message;
    if (event.seq <= handled) continue;  // already handled before a restart (or a duplicate)
    bool replaying = !(job.group.replay_until < entry.cursor);
    for (int attempt = 1;; ++attempt) {
      std::exception_ptr error;
      try {
        context.services->types().upcast(event);  // consumers see the current revision, like actors
        consumer.handle(*context.store, *context.services, event, {replaying, job.fence});
        handled = event.seq;
        break;
      } catch (const LeaseLost&) {
        throw;
      } catch (...) {
        error = std::current_exception();
      }
      if (attempt >= policy.max_attempts || context.stopping->load()) {
        keep_progress();
        if (attempt < policy.max_attempts) return false;
        auto why = describe(error);
        context.store->stop_stream(group_id, {stream.stream_id, handled, true, event.seq, event.id, why, attempt},
                                   job.fence);
        context.log("group " + group_id + " stopped stream " + stream.stream_id + " at seq " +
                    std::to_string(event.seq) + " after " + std::to_string(attempt) + " attempts: " + why);
        return true;
      }
      std::this_thread::sleep_for(policy.delay(attempt));
    }
  }
  keep_progress();
  if (resumed) {
    // Saved now, not with the cursor: once the failure is cleared, nothing brings these events back.
    if (!consumer.records_progress() && handled > done) context.store->mark_handled(mark());
    context.store->clear_failure(group_id, stream.stream_id, job.fence);
    context.log("group " + group_id + " caught up resumed stream " + stream.stream_id + " to seq " +
                std::to_string(handled));
  }
  return true;
}

void stream_handler(caf::blocking_actor* self, std::shared_ptr<const RunnerContext> context) {
  bool running = true;
  self->receive_while(running)(
      [&](run_atom, Assignment& job) {
        Handled handled;
        for (auto& stream : job.streams) {
          try {
            handled.complete = handle_stream(*context, job, stream, handled.marks) && handled.complete;
          } catch (const LeaseLost&) {
            handled.complete = false;
            handled.lease_lost = true;
            break;
          } catch (...) {
            // Recording a failure failed (the database is away): the batch is read again later.
            context->log("group " + job.group.group_id + " stream " + stream.stream_id + ": " +
                         describe(std::current_exception()));
            handled.complete = false;
          }
        }
        return handled;
      },
      [&](stop_atom) { running = false; });
}

// Splits a batch by stream, each stream to the handler that always gets it, with its progress.
std::vector<Assignment> assign(const RunnerContext& context, const Owned& owned, const std::vector<FeedEntry>& batch,
                               size_t handlers) {
  std::vector<Assignment> jobs(handlers, Assignment{owned.group, owned.fence(), owned.cursor, {}});
  std::unordered_map<std::string, std::pair<size_t, size_t>> where;  // stream -> (handler, index)
  std::vector<std::string> stream_ids;
  for (const auto& entry : batch) {
    const auto& id = entry.message.stream_id;
    auto [it, fresh] = where.try_emplace(id);
    if (fresh) {
      size_t h = stream_hash(id) / owned.group.slice_count % handlers;
      it->second = {h, jobs[h].streams.size()};
      jobs[h].streams.push_back({id, {}, std::nullopt});
      stream_ids.push_back(id);
    }
    jobs[it->second.first].streams[it->second.second].events.push_back(entry);
  }
  for (auto& progress : context.store->load_progress(owned.group.group_id, stream_ids)) {
    auto [h, i] = where.at(progress.stream_id);
    jobs[h].streams[i].progress = std::move(progress);
  }
  return jobs;
}

// Resumed streams of this slice that the feed may not bring again: caught up from the stream.
std::vector<Assignment::Stream> resumed_streams(const RunnerContext& context, const Owned& owned) {
  std::vector<Assignment::Stream> out;
  for (auto& failed : context.store->failed_streams(owned.group.group_id))
    if (is_resumed(failed) && stream_hash(failed.stream_id) % owned.group.slice_count == context.slice)
      out.push_back({failed.stream_id, {}, std::move(failed)});
  return out;
}

// Hands the assignments to the stream handlers, all at once, and waits for every one.
Handled run_assignments(caf::blocking_actor* self, const std::vector<caf::actor>& handlers,
                        std::vector<Assignment> jobs) {
  std::vector<decltype(self->request(handlers[0], caf::infinite, run_atom::value, Assignment{}))> replies;
  for (size_t h = 0; h < handlers.size(); ++h)
    if (!jobs[h].streams.empty()) replies.push_back(self->request(handlers[h], caf::infinite, run_atom::value, std::move(jobs[h])));
  Handled all;
  for (auto& reply : replies)
    reply.receive(
        [&](Handled& done) {
          all.complete = all.complete && done.complete;
          all.lease_lost = all.lease_lost || done.lease_lost;
          all.marks.insert(all.marks.end(), done.marks.begin(), done.marks.end());
        },
        [&](caf::error&) { all.complete = false; });
  return all;
}

// The shape this process brings to the group.
GroupShape shape_of(const ConsumerOptions& options) {
  GroupShape shape{options.slice_count, options.types};
  std::sort(shape.types.begin(), shape.types.end());
  return shape;
}

bool same_shape(const GroupState& group, const GroupShape& shape) {
  return group.slice_count == shape.slice_count && group.types == shape.types;
}

class Runner {
 public:
  Runner(caf::blocking_actor* self, std::shared_ptr<const RunnerContext> context)
      : self_(self), context_(std::move(context)), options_(context_->consumer->options()),
        shape_(shape_of(options_)) {
    for (size_t i = 0; i < std::max<size_t>(context_->options.stream_handlers, 1); ++i)
      handlers_.push_back(self_->spawn(stream_handler, context_));
  }

  ~Runner() {
    for (auto& h : handlers_) self_->send(h, stop_atom::value);
    release("released");
  }

  void run() {
    while (!context_->stopping->load()) {
      try {
        if (!owned_ && !acquire()) continue;
        if (!still_ours()) continue;
        for (auto& stream : resumed_streams(*context_, *owned_)) {
          Assignment job{owned_->group, owned_->fence(), owned_->cursor, {}};
          std::vector<ProgressMark> marks;
          handle_stream(*context_, job, stream, marks);
        }
        run_batch();
      } catch (const LeaseLost&) {
        release("lost", " (fenced: another process took it)");
      } catch (const std::exception& e) {
        log("group " + options_.group + " slice " + std::to_string(context_->slice) + ": " + e.what());
        if (owned_ && !owned_->lease->alive()) release("lost");
        idle(context_->options.poll_interval * 5);
      }
    }
  }

 private:
  // Takes the slice if the group runs, its stored shape fits this process's, and nobody holds it.
  bool acquire() {
    auto known = context_->store->find_group(options_.group);
    if (known && !known->active) return idle(context_->options.poll_interval);
    auto check = context_->store->check_shape(options_.group, shape_);
    if (check.verdict == ShapeCheck::Verdict::refused) {
      if (refusal_ != check.reason) log("not running: " + check.reason);
      refusal_ = check.reason;
      return idle(context_->options.poll_interval * 20);
    }
    refusal_.clear();
    if (check.verdict == ShapeCheck::Verdict::adopted)
      log("group " + options_.group + " now reads the event types of this version");
    auto lease = context_->store->try_lease_slice(options_.group, context_->slice, context_->owner);
    if (!lease) return idle(context_->options.poll_interval * 5);
    auto group = context_->store->find_group(options_.group);
    if (!group) throw StoreError("consumer group " + options_.group + " disappeared");
    owned_ = Owned{std::move(lease), *group, context_->store->load_cursor(options_.group, context_->slice)};
    log("took slice " + std::to_string(context_->slice) + " of group " + options_.group);
    return true;
  }

  // Refreshes the group; gives the slice up when the lease is gone, the group stopped (a reset
  // waits for that) or another version changed its shape.
  bool still_ours() {
    if (!owned_->lease->alive()) return release("lost");
    auto current = context_->store->find_group(options_.group);
    if (!current || !current->active) return release("paused");
    if (!same_shape(*current, shape_)) return release("gave up", " (another version changed the group's shape)");
    if (current->generation != owned_->group.generation)
      owned_->cursor = context_->store->load_cursor(options_.group, context_->slice);
    owned_->group = *current;
    return true;
  }

  void run_batch() {
    auto& owned = *owned_;
    auto seen = context_->wakeup->epoch();
    // Read before the batch: a batch shorter than the limit holds every matching entry up to
    // `head`, so the cursor may move to `head`, past entries of other types and slices.
    auto head = context_->store->feed_head();
    auto batch = context_->store->read_feed(owned.cursor, context_->options.batch_size,
                                            {options_.types, owned.group.slice_count, context_->slice});
    auto next = batch.empty() ? owned.cursor : batch.back().cursor;
    if (batch.size() < context_->options.batch_size) next = std::max(next, head);
    Handled handled;
    if (!batch.empty()) handled = run_assignments(self_, handlers_, assign(*context_, owned, batch, handlers_.size()));
    if (handled.lease_lost) throw LeaseLost("a progress write of group " + options_.group + " was fenced off");
    if (!handled.complete) {
      for (const auto& mark : handled.marks) context_->store->mark_handled(mark);  // keep what was done
      idle(retry_policy(*context_).delay(++incomplete_));  // never a hot loop on a failing batch
      return;
    }
    incomplete_ = 0;
    if (owned.cursor < next || !handled.marks.empty()) {
      if (context_->store->save_progress(options_.group, owned.fence(), owned.group.generation, next, handled.marks))
        owned.cursor = next;
      else
        owned.cursor = context_->store->load_cursor(options_.group, context_->slice);  // reset meanwhile
    }
    if (batch.empty()) context_->wakeup->wait(seen, context_->options.poll_interval);
  }

  bool release(const std::string& what, const std::string& why = "") {
    if (owned_) {
      owned_.reset();
      log(what + " slice " + std::to_string(context_->slice) + " of group " + options_.group + why);
    }
    return false;
  }

  bool idle(std::chrono::milliseconds timeout) {
    context_->wakeup->wait(context_->wakeup->epoch(), timeout);
    return false;
  }

  void log(const std::string& line) const { context_->log(line); }

  caf::blocking_actor* self_;
  std::shared_ptr<const RunnerContext> context_;
  const ConsumerOptions& options_;
  GroupShape shape_;
  std::vector<caf::actor> handlers_;
  std::optional<Owned> owned_;
  std::string refusal_;  // the last reason the group's shape was refused (logged once)
  int incomplete_ = 0;   // batches in a row that could not complete
};

}  // namespace

void group_runner(caf::blocking_actor* self, std::shared_ptr<const RunnerContext> context) {
  Runner(self, std::move(context)).run();
}

}  // namespace cairn
