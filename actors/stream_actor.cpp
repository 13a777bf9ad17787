#include "actors/stream_actor.hpp"

#include "actors/writer.hpp"

namespace cairn {
namespace {

using Self = stream_actor::stateful_pointer<StreamActorState>;
using Status = HandleResult::Status;

// What the front command comes to against the current state.
struct Verdict {
  enum class Kind { finish, settle, append };
  Kind kind = Kind::finish;
  HandleResult result;            // finish: the caller's answer
  std::vector<Message> messages;  // append: the command (unless stored) and its events, or its rejection
  bool rejecting = false;         // append: the messages are a stored command's rejection

  static Verdict finish(HandleResult result) { return {Kind::finish, std::move(result), {}, false}; }
  static Verdict settle() { return {Kind::settle, {}, {}, false}; }  // answered already: record the mark
  static Verdict append(std::vector<Message> messages, bool rejecting) {
    return {Kind::append, {}, std::move(messages), rejecting};
  }
};

// A command of a batch: its rejection, or how many of the batch's messages it appends.
struct Batched {
  std::optional<HandleResult> rejection;
  size_t messages = 0;
};

struct Stream {
  Self self;
  std::string id;
  const ActorSpec* spec;
  std::shared_ptr<const StreamContext> context;
  const ActorMetrics* metrics;

  void process_next() const;
  bool decide_batch() const;
  void send_back(size_t n) const;
  void answer_all(size_t n, const HandleResult& result) const;
  void batch_appended(AppendOutcome& outcome, std::vector<Batched> batch) const;
  template <class Then>
  void write(AppendRequest request, Then then) const;
  template <class Step>
  void guarded(Step&& step) const;
  Verdict judge() const;
  Verdict rejection(std::string code, std::string reason) const;
  void act(Verdict verdict) const;
  bool answered() const;
  void settle_answered() const;
  void finish(HandleResult result) const;
  void append(std::vector<Message> messages) const;
  void appended(AppendOutcome& outcome) const;
  void decide_locked() const;
  std::vector<Message> envelopes(const Message& command, const Decision& decision, bool stored) const;
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
    guarded([&] {
      if (!st.current) st.current = rehydrate(*spec, context->app->types(), *context->store, id);
      if (!decide_batch()) act(judge());
    });
  }
  if (!st.busy && st.queue.empty() && st.passivating) self->quit();
}

// Runs a step of the front command; a failure finishes it with the reason.
template <class Step>
void Stream::guarded(Step&& step) const {
  auto& st = self->state;
  bool stored = st.queue.front().request.stored;
  auto type = st.queue.front().request.command.type;  // a copy: a failing step may have finished it
  try {
    step();
  } catch (const BadInput& e) {
    // A stored command that can never be decided (say, a payload this version cannot read) is
    // answered with its rejection, so it is not retried forever; a caller gets the error.
    if (stored && st.current) return act(rejection(invalid_command_code, e.what()));
    finish(HandleResult::failure(Status::invalid, e.what(), st.current ? st.current->seq : 0));
  } catch (const LeaseLost& e) {
    finish(HandleResult::failure(Status::lease_lost, e.what(), st.current ? st.current->seq : 0));
  } catch (const Unavailable& e) {
    st.current.reset();
    finish(HandleResult::failure(Status::unavailable, e.what()));
  } catch (const std::exception& e) {
    st.current.reset();  // reload before the next command: the failure may have left the state half-built
    finish(HandleResult::failure(Status::failed, "handling " + type + " failed: " + e.what()));
  } catch (...) {
    st.current.reset();
    finish(HandleResult::failure(Status::failed, "handling " + type + " failed: a throw that is not a std::exception"));
  }
}

// Decides the front command against the current state. A stored command is decided at most once:
// a re-delivery, or a retry after an append whose outcome was unknown, finds its answer in the
// stream and decides nothing.
Verdict Stream::judge() const {
  const auto& st = self->state;
  const auto& request = st.queue.front().request;
  const auto& command = request.command;
  if (request.stored && answered()) return Verdict::settle();
  auto decider = spec->deciders.find(command.type);
  if (decider == spec->deciders.end()) {
    auto reason = "actor " + spec->name + " has no decide for " + command.type;
    if (request.stored) return rejection(invalid_command_code, std::move(reason));
    return Verdict::finish(HandleResult::failure(Status::invalid, std::move(reason), st.current->seq));
  }
  auto decision = decider->second(*spec, st.current->state, command);
  // A dispatched command's rejection is recorded in its stream: the caller is long gone.
  if (decision.rejected() && request.stored) return rejection(decision.rejection_code(), decision.rejection());
  if (decision.rejected()) {
    auto result = HandleResult::failure(Status::rejected, decision.rejection(), st.current->seq);
    result.rejection_code = decision.rejection_code();
    return Verdict::finish(std::move(result));
  }
  auto messages = envelopes(command, decision, request.stored);
  // A stored command that decides no events still has to record that it was handled.
  if (messages.empty()) return Verdict::settle();
  return Verdict::append(std::move(messages), false);
}

// A hot stream's queue in one append: the direct commands at its front are decided one after
// another, each against the state the ones before it produce, and their messages appended
// together; every answer waits for that append. A conflict or a decide that throws leaves the
// state as it was, and the commands are decided again one by one; an append whose outcome is
// unknown is answered as it would be for one command. Stored commands always go alone: their
// at-most-once rule lives in that path.
bool Stream::decide_batch() const {
  constexpr size_t max_commands = 64;
  auto& st = self->state;
  auto batchable = [](const StreamActorState::Pending& p) {
    return !p.request.stored && !p.request.mark && !p.locked && !p.alone;
  };
  if (st.queue.size() < 2 || !batchable(st.queue.front()) || !batchable(*std::next(st.queue.begin()))) return false;
  Rehydrated scratch = *st.current;
  std::vector<Message> messages;
  std::vector<Batched> batch;
  for (auto it = st.queue.begin(); it != st.queue.end() && batch.size() < max_commands && batchable(*it); ++it) {
    const auto& command = it->request.command;
    auto decider = spec->deciders.find(command.type);
    if (decider == spec->deciders.end()) break;
    try {
      auto decision = decider->second(*spec, scratch.state, command);
      if (decision.rejected()) {
        auto result = HandleResult::failure(Status::rejected, decision.rejection(), scratch.seq);
        result.rejection_code = decision.rejection_code();
        batch.push_back({std::move(result), 0});
        continue;
      }
      auto envelope = envelopes(command, decision, false);
      for (auto& message : envelope) {
        message.seq = scratch.seq + 1;  // the seq the append gives it: the batch expects the head
        apply(*spec, context->app->types(), scratch, message);
        message.seq = 0;
      }
      batch.push_back({std::nullopt, envelope.size()});
      for (auto& message : envelope) messages.push_back(std::move(message));
    } catch (...) {
      break;  // decided again on its own, where its failure is answered (`scratch` is not used again)
    }
  }
  if (batch.size() < 2 || messages.empty()) return false;
  auto n = batch.size();
  write({id, ExpectedSeq::exactly(st.current->seq), std::move(messages), std::nullopt},
        [stream = *this, batch = std::move(batch), n](Appended& appended) mutable {
          if (appended.failure.empty()) return stream.batch_appended(appended.outcome, std::move(batch));
          // As for one command: the append may have happened, so nothing is decided again.
          stream.self->state.current.reset();
          stream.answer_all(n, HandleResult::failure(Status::failed, "append failed: " + appended.failure));
        });
  return true;
}

// Hands `request` to the writer; `then` runs with its answer, and the queue moves on.
template <class Then>
void Stream::write(AppendRequest request, Then then) const {
  self->state.on_appended = std::move(then);
  context->writer->append(std::move(request), caf::actor_cast<stream_actor>(self));
}

// The front `n` commands all get `result`.
void Stream::answer_all(size_t n, const HandleResult& result) const {
  for (size_t i = 0; i < n; ++i) finish(result);
}

// The front `n` commands go back to be decided one by one.
void Stream::send_back(size_t n) const {
  auto& st = self->state;
  for (auto it = st.queue.begin(); it != st.queue.end() && n > 0; ++it, --n) it->alone = true;
  st.busy = false;
}

// Folds a batch's stored messages into the state and answers its commands in order (each took
// `messages` of the append: the command, then its events). A conflict or refused events send them
// back to be decided one by one; an append whose outcome is unknown answers them all with it.
void Stream::batch_appended(AppendOutcome& outcome, std::vector<Batched> batch) const {
  auto& st = self->state;
  switch (outcome.status) {
    case AppendOutcome::Status::conflict:
    case AppendOutcome::Status::invalid:
      return send_back(batch.size());  // nothing was written: each is decided again on its own
    case AppendOutcome::Status::unavailable:
    case AppendOutcome::Status::lease_lost:
      // The commit may have happened: deciding again could decide a command twice. Each gets the
      // answer it would get alone.
      if (outcome.status == AppendOutcome::Status::unavailable) st.current.reset();
      return answer_all(batch.size(), HandleResult::failure(outcome.status == AppendOutcome::Status::unavailable
                                                                ? Status::unavailable
                                                                : Status::lease_lost,
                                                            outcome.error));
    case AppendOutcome::Status::appended: break;
  }
  int64_t before = st.current->seq;
  auto message = outcome.messages.begin();
  std::string failed;
  for (auto& entry : batch) {
    if (entry.rejection) {
      finish(std::move(*entry.rejection));
      continue;
    }
    HandleResult result{Status::ok, {}, {}, {}, 0};
    for (size_t i = 0; i < entry.messages; ++i, ++message) {
      try {
        if (failed.empty()) apply(*spec, context->app->types(), *st.current, *message);
      } catch (const std::exception& e) {
        failed = std::string("events were stored but evolving them failed: ") + e.what();
      }
      if (i > 0) result.events.push_back(std::move(*message));  // the first is the command
    }
    result.seq = st.current->seq;
    result.error = failed;
    finish(std::move(result));
  }
  if (failed.empty())
    maybe_snapshot(before, st.current->seq);
  else
    st.current.reset();
}

// Answers the front (stored) command with a rejection, appended with the group's mark in one
// transaction: a crash cannot leave the one without the other.
Verdict Stream::rejection(std::string code, std::string reason) const {
  const auto& command = self->state.queue.front().request.command;
  return Verdict::append(
      envelopes(command, Decision(Rejection{command.id, command.type, std::move(reason), std::move(code)}), true),
      true);
}

void Stream::act(Verdict verdict) const {
  switch (verdict.kind) {
    case Verdict::Kind::finish: return finish(std::move(verdict.result));
    case Verdict::Kind::settle: return settle_answered();
    case Verdict::Kind::append:
      self->state.queue.front().rejecting = verdict.rejecting;
      return append(std::move(verdict.messages));
  }
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
  finish({Status::ok, {}, {}, {}, st.current->seq});
}

void Stream::append(std::vector<Message> messages) const {
  const auto& pending = self->state.queue.front().request;
  write({id, ExpectedSeq::exactly(self->state.current->seq), std::move(messages), pending.mark},
        [stream = *this](Appended& appended) {
          if (appended.failure.empty()) return stream.appended(appended.outcome);
          stream.self->state.current.reset();
          stream.finish(HandleResult::failure(Status::failed, "append failed: " + appended.failure));
        });
}

void Stream::appended(AppendOutcome& outcome) const {
  auto& st = self->state;
  auto& pending = st.queue.front();
  switch (outcome.status) {
    case AppendOutcome::Status::invalid:
      // A stored command's events the store refuses (too big, say) will never fit: reject it.
      if (pending.request.stored && !pending.rejecting)
        return act(rejection(invalid_command_code, "its events cannot be stored: " + outcome.error));
      return finish(HandleResult::failure(Status::invalid, outcome.error, st.current->seq));
    case AppendOutcome::Status::lease_lost:
      return finish(HandleResult::failure(Status::lease_lost, outcome.error, st.current->seq));
    case AppendOutcome::Status::unavailable:
      st.current.reset();  // the commit may have happened: rehydrate before deciding again
      return finish(HandleResult::failure(Status::unavailable, outcome.error));
    case AppendOutcome::Status::conflict:
      // Another writer (another process) got there first: decide again under the stream's lock,
      // where nobody can. Under the lock no conflict can happen, but a store that broke that
      // promise must not loop.
      if (!pending.locked) {
        metrics->conflicts->inc();
        return decide_locked();
      }
      return finish(HandleResult::failure(Status::conflict,
                                          "stream '" + id + "': expected seq " + std::to_string(st.current->seq) +
                                              ", stream is at " + std::to_string(outcome.head_seq) +
                                              " (under the stream's write lock)",
                                          outcome.head_seq));
    case AppendOutcome::Status::appended: break;
  }
  HandleResult result{Status::ok, {}, {}, {}, st.current->seq};
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

// After a conflict: holds the stream's write lock while catching up on the newer messages,
// deciding again and appending, so the retry always makes progress however many processes write
// the stream. Bypasses the group-commit writer; contention is the rare path.
void Stream::decide_locked() const {
  auto& st = self->state;
  auto& pending = st.queue.front();
  pending.locked = true;
  guarded([&] {
    std::optional<Verdict> verdict;
    auto outcome = context->store->append_under_lock(
        id, st.current->seq, [&](const std::vector<Message>& newer) -> std::optional<AppendRequest> {
          for (const auto& message : newer) {
            apply(*spec, context->app->types(), *st.current, message);
            // Another process already answered this stored command (it owned the delivery meanwhile).
            if (pending.request.stored && answers(*spec, message, pending.request.command.id))
              verdict = Verdict::settle();
          }
          pending.checked = st.current->seq;  // so judge() reads nothing: the store is locked
          if (!verdict) verdict = judge();
          if (verdict->kind != Verdict::Kind::append) return std::nullopt;
          return AppendRequest{id, ExpectedSeq::exactly(st.current->seq), verdict->messages, pending.request.mark};
        });
    if (!outcome) return act(std::move(*verdict));
    pending.rejecting = verdict->rejecting;
    appended(*outcome);
  });
}

void Stream::maybe_snapshot(int64_t before, int64_t after) const {
  int every = spec->snapshot_every;
  if (every <= 0 || before / every == after / every) return;
  try {
    const auto& current = *self->state.current;
    context->store->save_snapshot({id, current.seq, spec->state_revision, spec->state_to_json(current.state)});
    metrics->snapshots->inc();
  } catch (const std::exception&) {
    // A snapshot is an optimisation: without it the next rehydration replays more events.
  }
}

void Stream::finish(HandleResult result) const {
  auto& st = self->state;
  metrics->answered(result.status, st.queue.front().received);
  context->metrics->queued_commands->dec();
  st.queue.front().request.reply(std::move(result));
  st.queue.pop_front();
  st.busy = false;
}

}  // namespace

stream_actor::behavior_type stream_actor_behavior(Self self, std::string stream_id, const ActorSpec* spec,
                                                  std::shared_ptr<const StreamContext> context) {
  // One copy shared by the handlers: most live actors sit idle, so their size is the footprint.
  const auto* metrics = &context->metrics->of(spec);
  auto stream = std::make_shared<const Stream>(
      Stream{self, std::move(stream_id), spec, std::move(context), metrics});
  return {
      [stream](handle_atom, HandleRequest& request) {
        auto& queue = stream->self->state.queue;
        if (queue.size() >= stream->context->max_queued_commands) {
          stream->metrics->answered(Status::overloaded, std::chrono::steady_clock::now());
          return request.reply(HandleResult::failure(
              Status::overloaded, "stream '" + stream->id + "' is overloaded: " + std::to_string(queue.size()) +
                                      " commands are waiting (max_queued_commands); try again later"));
        }
        queue.push_back({std::move(request)});
        stream->context->metrics->queued_commands->inc();
        stream->process_next();
      },
      [stream](appended_atom, Appended& appended) {
        auto then = std::exchange(stream->self->state.on_appended, nullptr);
        then(appended);
        stream->process_next();
      },
      [stream](passivate_atom) {
        stream->self->state.passivating = true;
        stream->process_next();
      },
  };
}

}  // namespace cairn
