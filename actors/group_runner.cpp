#include "actors/group_runner.hpp"

#include <map>
#include <optional>
#include <thread>
#include <unordered_map>

#include "runtime/errors.hpp"

namespace cairn {
namespace {

using run_atom = caf::atom_constant<caf::atom("run")>;
using stop_atom = caf::atom_constant<caf::atom("stop")>;

// One stream's events of a batch, in seq order, with what the group already did on that stream.
struct StreamWork {
  std::string stream_id;
  std::vector<FeedEntry> events;
  std::optional<StreamProgress> progress;
};
using StreamWorks = std::vector<StreamWork>;

// What a stream handler did with its share of a batch: the progress to save with the cursor.
struct Handled {
  bool complete = true;  // false: interrupted, the cursor must not move past this batch
  std::vector<ProgressMark> marks;
};

}  // namespace
}  // namespace cairn

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(cairn::StreamWorks)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(cairn::Handled)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(cairn::GroupState)

namespace cairn {
namespace {

// One attempt at a stream's new events of this batch at once (those on the same side of the
// replay boundary). Returns the seq handled up to: `handled` as it was if the batch failed, and
// the caller then goes event by event, with retries, to find the event that fails.
int64_t handle_as_batch(const RunnerContext& context, const GroupState& group, StreamWork& work, int64_t handled) {
  std::vector<Message> events;
  std::optional<bool> replaying;
  try {
    for (auto& entry : work.events) {
      if (entry.message.seq <= handled) continue;
      bool replayed = !(group.replay_until < entry.cursor);
      if (replaying && *replaying != replayed) break;
      replaying = replayed;
      context.services->types().upcast(entry.message);
      events.push_back(entry.message);
    }
    if (events.size() < 2) return handled;
    context.consumer->handle_batch(*context.store, *context.services, events, *replaying);
    return events.back().seq;
  } catch (const std::exception&) {
    return handled;
  }
}

// Handles one stream's events in order: skips what was done, retries a failing event with
// backoff, then stops the stream for this group (recording why) so the others keep flowing.
// False when interrupted by shutdown before the stream was done: the cursor must not pass it.
bool handle_stream(const RunnerContext& context, const GroupState& group, StreamWork& work,
                   std::vector<ProgressMark>& marks) {
  auto& consumer = *context.consumer;
  const auto& options = context.options;
  if (work.progress && work.progress->stopped) return true;
  int64_t done = work.progress ? work.progress->seq : 0;
  int64_t handled = done;
  if (consumer.handles_batches()) handled = handle_as_batch(context, group, work, handled);
  for (auto& entry : work.events) {
    auto& event = entry.message;
    if (event.seq <= handled) continue;  // already handled before a restart (or a duplicate)
    bool replaying = !(group.replay_until < entry.cursor);
    for (int attempt = 1;; ++attempt) {
      try {
        context.services->types().upcast(event);  // consumers see the current revision, like actors
        consumer.handle(*context.store, *context.services, event, replaying);
        handled = event.seq;
        break;
      } catch (const std::exception& e) {
        if (attempt >= options.max_attempts || context.stopping->load()) {
          if (handled > done && !consumer.records_progress()) marks.push_back({group.group_id, work.stream_id, handled});
          if (attempt >= options.max_attempts) {
            context.store->stop_stream(group.group_id,
                                       {work.stream_id, handled, true, event.seq, event.id, e.what(), attempt});
            context.log("group " + group.group_id + " stopped stream " + work.stream_id + " at seq " +
                        std::to_string(event.seq) + " after " + std::to_string(attempt) + " attempts: " + e.what());
            return true;
          }
          return false;
        }
        auto delay = std::min(options.backoff_max, options.backoff_base * (1 << std::min(attempt - 1, 16)));
        std::this_thread::sleep_for(delay);
      }
    }
  }
  if (handled > done && !consumer.records_progress()) marks.push_back({group.group_id, work.stream_id, handled});
  return true;
}

void stream_handler(caf::blocking_actor* self, std::shared_ptr<const RunnerContext> context) {
  bool running = true;
  self->receive_while(running)(
      [&](run_atom, const GroupState& group, StreamWorks& works) {
        Handled handled;
        for (auto& work : works) {
          try {
            handled.complete = handle_stream(*context, group, work, handled.marks) && handled.complete;
          } catch (const std::exception& e) {
            // Recording a failure failed (the database is away): the batch is read again later.
            context->log("group " + group.group_id + " stream " + work.stream_id + ": " + e.what());
            handled.complete = false;
          }
        }
        return handled;
      },
      [&](stop_atom) { running = false; });
}

// Streams resumed by an operator: re-handle what the cursor already passed, from their failed event.
void recover_resumed(const RunnerContext& context, const GroupState& group, FeedCursor cursor) {
  const auto& options = context.consumer->options();
  for (auto& failed : context.store->failed_streams(group.group_id)) {
    if (failed.stopped || stream_hash(failed.stream_id) % group.slice_count != context.slice) continue;
    StreamWork work{failed.stream_id, {}, failed};
    work.progress->failed_seq = 0;
    for (auto& m : context.store->read_stream(failed.stream_id, {failed.seq, std::nullopt, std::nullopt})) {
      if (std::find(options.types.begin(), options.types.end(), m.type) == options.types.end()) continue;
      // Events past the cursor come through the feed; those up to it only through this path.
      work.events.push_back({std::move(m), cursor});
    }
    std::vector<ProgressMark> marks;
    handle_stream(context, group, work, marks);
    for (const auto& mark : marks) context.store->mark_handled(mark);
    auto after = context.store->load_progress(group.group_id, {failed.stream_id});
    if (!after.empty() && !after.front().stopped) context.store->clear_failure(group.group_id, failed.stream_id);
  }
}

}  // namespace

void group_runner(caf::blocking_actor* self, std::shared_ptr<const RunnerContext> context) {
  const auto& options = context->consumer->options();
  const auto& group_id = options.group;
  std::vector<caf::actor> handlers;
  for (size_t i = 0; i < std::max<size_t>(context->options.stream_handlers, 1); ++i)
    handlers.push_back(self->spawn(stream_handler, context));
  std::unique_ptr<SliceLease> lease;
  GroupState group;
  FeedCursor cursor;
  size_t rounds = 0;
  auto idle = [&](std::chrono::milliseconds timeout) {
    context->wakeup->wait(context->wakeup->epoch(), timeout);
  };
  while (!context->stopping->load()) {
    try {
      ++rounds;
      if (!lease) {
        auto known = context->store->find_group(group_id);
        if (known && !known->active) {
          idle(context->options.poll_interval);
          continue;
        }
        lease = context->store->try_lease_slice(group_id, context->slice, context->owner);
        if (!lease) {
          idle(context->options.poll_interval * 5);
          continue;
        }
        group = context->store->ensure_group(group_id, options.slice_count, options.start);
        cursor = context->store->load_cursor(group_id, context->slice);
        context->log("took slice " + std::to_string(context->slice) + " of group " + group_id);
      } else if (rounds % 20 == 0 && !lease->alive()) {
        lease.reset();
        context->log("lost slice " + std::to_string(context->slice) + " of group " + group_id);
        continue;
      }
      auto current = context->store->find_group(group_id);
      if (!current || !current->active) {
        // A stopped group's slices are free: whoever holds all of them (a reset) knows no batch runs.
        lease.reset();
        context->log("paused slice " + std::to_string(context->slice) + " of stopped group " + group_id);
        continue;
      }
      if (current->generation != group.generation) cursor = context->store->load_cursor(group_id, context->slice);
      group = *current;
      if (rounds % 10 == 1) recover_resumed(*context, group, cursor);

      auto seen = context->wakeup->epoch();
      // Read before the batch: a batch shorter than the limit holds every matching entry up to
      // `head`, so the cursor may move to `head`, past entries of other types and slices.
      auto head = context->store->feed_head();
      auto batch = context->store->read_feed(cursor, context->options.batch_size,
                                             {options.types, group.slice_count, context->slice});
      auto next = batch.empty() ? cursor : batch.back().cursor;
      if (batch.size() < context->options.batch_size) next = std::max(next, head);
      if (batch.empty()) {
        if (cursor < next && context->store->save_cursor(group_id, context->slice, group.generation, next))
          cursor = next;
        context->wakeup->wait(seen, context->options.poll_interval);
        continue;
      }
      std::vector<std::string> stream_ids;
      std::unordered_map<std::string, size_t> index;
      std::vector<StreamWorks> per_handler(handlers.size());
      std::vector<std::pair<size_t, size_t>> where;  // stream -> (handler, position)
      for (auto& entry : batch) {
        auto [it, fresh] = index.emplace(entry.message.stream_id, where.size());
        if (fresh) {
          size_t h = stream_hash(entry.message.stream_id) / group.slice_count % handlers.size();
          where.emplace_back(h, per_handler[h].size());
          per_handler[h].push_back({entry.message.stream_id, {}, std::nullopt});
          stream_ids.push_back(entry.message.stream_id);
        }
        auto [h, pos] = where[it->second];
        per_handler[h][pos].events.push_back(entry);
      }
      for (auto& progress : context->store->load_progress(group_id, stream_ids)) {
        auto [h, pos] = where[index.at(progress.stream_id)];
        per_handler[h][pos].progress = progress;
      }
      // All handlers work at once; then wait for each of them.
      std::vector<decltype(self->request(handlers[0], caf::infinite, run_atom::value, group, StreamWorks{}))> replies;
      for (size_t h = 0; h < handlers.size(); ++h)
        if (!per_handler[h].empty())
          replies.push_back(self->request(handlers[h], caf::infinite, run_atom::value, group, std::move(per_handler[h])));
      bool complete = true;
      std::vector<ProgressMark> marks;
      for (auto& reply : replies)
        reply.receive(
            [&](Handled& done) {
              complete = complete && done.complete;
              marks.insert(marks.end(), done.marks.begin(), done.marks.end());
            },
            [&](caf::error&) { complete = false; });
      // The cursor moves only once every stream of the batch is handled (or stopped).
      if (!complete) {
        for (const auto& mark : marks) context->store->mark_handled(mark);  // keep what was done
        continue;
      }
      if (context->store->save_progress(group_id, context->slice, group.generation, next, marks))
        cursor = next;
      else
        cursor = context->store->load_cursor(group_id, context->slice);  // reset meanwhile
    } catch (const std::exception& e) {
      context->log("group " + group_id + " slice " + std::to_string(context->slice) + ": " + e.what());
      if (lease && !lease->alive()) lease.reset();
      idle(context->options.poll_interval * 5);
    }
  }
  for (auto& h : handlers) self->send(h, stop_atom::value);
  if (lease) {
    lease.reset();
    context->log("released slice " + std::to_string(context->slice) + " of group " + group_id);
  }
}

}  // namespace cairn
