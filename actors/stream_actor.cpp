#include "actors/stream_actor.hpp"

#include <random>

namespace cairn {
namespace {

using Self = stream_actor::stateful_pointer<StreamActorState>;
using Status = HandleResult::Status;

struct Stream {
  Self self;
  std::string id;
  const ActorSpec* spec;
  std::shared_ptr<const StreamContext> context;
  writer_actor writer;

  void process_next() const;
  bool answered() const;
  void settle_answered() const;
  void reject(std::string reason) const;
  void finish(HandleResult result) const;
  void append(std::vector<Message> messages) const;
  void appended(AppendOutcome& outcome) const;
  std::vector<Message> envelopes(const Message& command, const Decision& decision, bool stored) const;
  void append_or_finish(std::vector<Message> messages) const;
  void maybe_snapshot(int64_t before, int64_t after) const;
};

// Whether a message answers the command `id`: an event it decided, or its rejection (not another
// command, whose metadata its caller chose).
bool answers(const ActorSpec& spec, const Message& message, const std::string& id) {
  if (spec.deciders.count(message.type)) return false;
  auto cause = message.metadata.find("causation_id");
  return cause != message.metadata.end() && cause->is_string() && cause->get_ref<const std::string&>() == id;
}

// The command first, then its events: caused by it, in its correlation, carrying its user metadata.
std::vector<Message> Stream::envelopes(const Message& command, const Decision& decision, bool stored) const {
  std::vector<Message> out;
  if (!stored) out.push_back(command);
  Json metadata = command.metadata;
  metadata.erase("dispatched");  // the command was; its events are not commands to deliver
  metadata["causation_id"] = command.id;
  metadata["producer"] = spec->name;
  for (const auto& draft : decision.drafts()) {
    Message event;
    event.id = new_uuid();
    event.stream_id = id;
    event.type = draft.type;
    event.revision = draft.revision;
    event.payload = draft.payload;
    event.metadata = metadata;
    out.push_back(std::move(event));
  }
  return out;
}

// Starts commands until one is waiting for the writer; synchronous outcomes (rejections, bad
// input) finish at once. A loop, not recursion: a long queue of rejections must not grow the stack.
void Stream::process_next() const {
  auto& st = self->state;
  while (!st.busy && !st.queue.empty()) {
    st.busy = true;
    const auto& request = st.queue.front().request;
    const auto& command = request.command;
    try {
      if (!st.current) st.current = rehydrate(*spec, context->app->types(), *context->store, id);
      // A stored command is decided at most once: a re-delivery, or a retry after an append
      // whose outcome was unknown, finds its answer in the stream and decides nothing.
      if (request.stored && answered()) {
        settle_answered();
        continue;
      }
      auto decider = spec->deciders.find(command.type);
      if (decider == spec->deciders.end()) {
        auto reason = "actor " + spec->name + " has no decide for " + command.type;
        if (request.stored) {
          reject(std::move(reason));
          continue;
        }
        finish(HandleResult::failure(Status::invalid, std::move(reason), st.current->seq));
        continue;
      }
      auto decision = decider->second(st.current->state, command);
      if (decision.rejected() && request.stored) {
        // A dispatched command's rejection is recorded in its stream: the caller is long gone.
        reject(decision.rejection());
        continue;
      }
      if (decision.rejected()) {
        finish(HandleResult::failure(Status::rejected, decision.rejection(), st.current->seq));
        continue;
      }
      st.queue.front().rejecting = false;
      append_or_finish(envelopes(command, decision, request.stored));
    } catch (const BadInput& e) {
      // A stored command that can never be decided (say, a payload this version cannot read) is
      // answered with its rejection, so it is not retried forever; a caller gets the error.
      if (request.stored && st.current) {
        reject(e.what());
        continue;
      }
      finish(HandleResult::failure(Status::invalid, e.what(), st.current ? st.current->seq : 0));
    } catch (const LeaseLost& e) {
      finish(HandleResult::failure(Status::lease_lost, e.what(), st.current ? st.current->seq : 0));
    } catch (const Unavailable& e) {
      st.current.reset();
      finish(HandleResult::failure(Status::unavailable, e.what()));
    } catch (const std::exception& e) {
      st.current.reset();  // reload before the next command: the failure may have left the state half-built
      finish(HandleResult::failure(Status::failed, std::string("handling ") + command.type + " failed: " + e.what()));
    }
  }
  if (!st.busy && st.queue.empty() && st.passivating) self->quit();
}

// Whether the stream already answers the front (stored) command: a message after it, caused by
// it (its events or its rejection). Reads only what the state has folded after the command (in
// pages), and only once: the stream's newer part makes the append conflict, and the conflict path
// looks there. A command just dispatched is the stream's head, so this reads nothing.
bool Stream::answered() const {
  constexpr int64_t page = 1000;
  auto& st = self->state;
  auto& pending = st.queue.front();
  const auto& command = pending.request.command;
  for (int64_t after = std::max(command.seq, pending.checked); after < st.current->seq; after += page) {
    auto upto = std::min(after + page, st.current->seq);
    for (const auto& message : context->store->read_stream(id, {after, upto, std::nullopt}))
      if (answers(*spec, message, command.id)) return true;
  }
  pending.checked = std::max(pending.checked, st.current->seq);
  return false;
}

// A stored command already answered: nothing is decided, and the group's mark (fenced) is
// recorded, in case it was lost with a reply or deleted.
void Stream::settle_answered() const {
  auto& st = self->state;
  const auto& request = st.queue.front().request;
  try {
    if (request.mark) context->store->mark_handled(*request.mark);
  } catch (const LeaseLost& e) {
    return finish(HandleResult::failure(Status::lease_lost, e.what(), st.current->seq));
  } catch (const std::exception& e) {
    return finish(HandleResult::failure(Status::failed, std::string("recording an answered command: ") + e.what()));
  }
  finish({Status::ok, {}, {}, st.current->seq});
}

// Answers the front (stored) command with a rejection, appended with the group's mark in one
// transaction: a crash cannot leave the one without the other.
void Stream::reject(std::string reason) const {
  auto& pending = self->state.queue.front();
  pending.rejecting = true;
  const auto& command = pending.request.command;
  append(envelopes(command, Decision(Rejection{command.id, command.type, std::move(reason)}), true));
}

// A stored command that decides no events still has to record that it was handled.
void Stream::append_or_finish(std::vector<Message> messages) const {
  if (!messages.empty()) return append(std::move(messages));
  settle_answered();
}

void Stream::append(std::vector<Message> messages) const {
  const auto& pending = self->state.queue.front().request;
  AppendRequest request{id, ExpectedSeq::exactly(self->state.current->seq), std::move(messages), pending.mark};
  auto stream = *this;
  self->request(writer, caf::infinite, append_atom::value, std::move(request))
      .then(
          [stream](AppendOutcome& outcome) {
            stream.appended(outcome);
            stream.process_next();
          },
            [stream](caf::error& error) {
              stream.self->state.current.reset();
              stream.finish(HandleResult::failure(Status::failed, "append failed: " + stream.self->system().render(error)));
              stream.process_next();
            });
}

void Stream::appended(AppendOutcome& outcome) const {
  auto& st = self->state;
  auto& pending = st.queue.front();
  switch (outcome.status) {
    case AppendOutcome::Status::invalid:
      // A stored command's events the store refuses (too big, say) will never fit: reject it.
      if (pending.request.stored && !pending.rejecting)
        return reject("its events cannot be stored: " + outcome.error);
      return finish(HandleResult::failure(Status::invalid, outcome.error, st.current->seq));
    case AppendOutcome::Status::lease_lost:
      return finish(HandleResult::failure(Status::lease_lost, outcome.error, st.current->seq));
    case AppendOutcome::Status::unavailable:
      st.current.reset();  // the commit may have happened: rehydrate before deciding again
      return finish(HandleResult::failure(Status::unavailable, outcome.error));
    case AppendOutcome::Status::conflict:
      // Another writer (another process) got there first: catch up and decide again.
      if (pending.conflicts++ < context->conflict_retries) {
        try {
          auto newer = catch_up(*spec, context->app->types(), *context->store, id, *st.current);
          // Another process already handled this stored command (it owned the delivery meanwhile).
          if (pending.request.stored) {
            for (const auto& m : newer)
              if (answers(*spec, m, pending.request.command.id)) return settle_answered();
            pending.checked = st.current->seq;
          }
        } catch (const std::exception& e) {
          st.current.reset();
          return finish(HandleResult::failure(Status::failed, std::string("reloading after a conflict failed: ") + e.what()));
        }
        // Back off with jitter before deciding again: two processes retrying in lockstep could
        // otherwise starve one of them (the loser always needs an extra read to catch up).
        auto ceiling = std::min(2 << std::min(pending.conflicts, 5), 50);
        auto delay = std::chrono::milliseconds(std::uniform_int_distribution<int>(0, ceiling)(st.random));
        self->delayed_send(self, delay, retry_atom::value);
        return;
      }
      return finish(HandleResult::failure(Status::conflict,
                                          "stream '" + id + "': expected seq " + std::to_string(st.current->seq) +
                                              ", stream is at " + std::to_string(outcome.head_seq) + " (after " +
                                              std::to_string(context->conflict_retries) + " retries)",
                                          outcome.head_seq));
    case AppendOutcome::Status::appended: break;
  }
  HandleResult result{Status::ok, {}, {}, st.current->seq};
  int64_t before = st.current->seq;
  try {
    for (auto& message : outcome.messages) {
      if (message.seq <= st.current->seq) continue;  // an idempotent repeat of what the state already holds
      bool is_command = message.id == pending.request.command.id;  // the stored command is not in `outcome`
      apply(*spec, context->app->types(), *st.current, message);
      if (!is_command) result.events.push_back(std::move(message));
    }
    result.seq = st.current->seq;
    maybe_snapshot(before, result.seq);
  } catch (const std::exception& e) {
    st.current.reset();
    result.error = std::string("events were stored but evolving them failed: ") + e.what();
  }
  finish(std::move(result));
}

void Stream::maybe_snapshot(int64_t before, int64_t after) const {
  int every = spec->snapshot_every;
  if (every <= 0 || before / every == after / every) return;
  try {
    const auto& current = *self->state.current;
    context->store->save_snapshot({id, current.seq, spec->state_revision, spec->state_to_json(current.state)});
  } catch (const std::exception&) {
    // A snapshot is an optimisation: without it the next rehydration replays more events.
  }
}

void Stream::finish(HandleResult result) const {
  auto& st = self->state;
  st.queue.front().promise.deliver(std::move(result));
  st.queue.pop_front();
  st.busy = false;
}

}  // namespace

stream_actor::behavior_type stream_actor_behavior(Self self, std::string stream_id, const ActorSpec* spec,
                                                  std::shared_ptr<const StreamContext> context, writer_actor writer) {
  // One copy shared by the handlers: most live actors sit idle, so their size is the footprint.
  auto stream = std::make_shared<const Stream>(Stream{self, std::move(stream_id), spec, std::move(context), std::move(writer)});
  return {
      [stream](handle_atom, HandleRequest& request) -> caf::result<HandleResult> {
        auto promise = stream->self->make_response_promise<HandleResult>();
        stream->self->state.queue.push_back({std::move(request), promise, 0});
        stream->process_next();
        return promise;
      },
      [stream](retry_atom) {
        stream->self->state.busy = false;
        stream->process_next();
      },
      [stream](passivate_atom) {
        stream->self->state.passivating = true;
        stream->process_next();
      },
  };
}

}  // namespace cairn
