#include "actors/supervisor.hpp"

#include <cairn/validation.hpp>

namespace cairn {
namespace {

using Self = supervisor_actor::stateful_pointer<SupervisorState>;
using Status = HandleResult::Status;

struct Supervisor {
  Self self;
  std::shared_ptr<const StreamContext> context;
  std::shared_ptr<Directory> directory;
  SupervisorOptions options;
  using Clock = std::chrono::steady_clock;

  // Sends `request` to its stream's actor, spawning it if need be. The caller adds a new actor to
  // the directory once it has sent everything waiting for it (see Directory).
  void route(HandleRequest request, const ActorSpec* spec) const {
    auto& st = self->state;
    const auto stream_id = request.stream_id;
    auto it = st.live.find(stream_id);
    if (it != st.live.end()) {
      st.lru.splice(st.lru.begin(), st.lru, it->second.lru);
      it->second.last_used = Clock::now();
      return self->send(it->second.actor, handle_atom::value, std::move(request));
    }
    auto actor = self->spawn(stream_actor_behavior, stream_id, spec, context);
    self->monitor(actor);
    self->send(actor, handle_atom::value, std::move(request));
    auto entry = st.live.emplace(stream_id, SupervisorState::Live{actor, {}, Clock::now()}).first;
    st.lru.push_front(&entry->first);
    entry->second.lru = st.lru.begin();
    st.stream_of.emplace(actor.address(), stream_id);
    count_live();
  }

  // Passivates the least recently used actors beyond `max_live_actors`, and those idle longer than
  // `idle_timeout`. A command sent straight to an actor does not move it in `lru`, so an actor at
  // the back that the directory saw used since gets a second chance: it moves to the front (each
  // at most once a pass, so senders that never stop cannot keep the pass going).
  void passivate_unused() const {
    auto& st = self->state;
    auto cutoff = Clock::now() - options.idle_timeout;
    for (size_t chances = st.live.size(); !st.lru.empty(); ) {
      const auto& stream_id = *st.lru.back();
      auto& live = st.live.at(stream_id);
      bool over = st.live.size() > options.max_live_actors;
      if (!over && live.last_used >= cutoff) return;
      auto sent = directory->last_sent(stream_id);
      if (sent > live.last_used && chances > 0 && (over || sent >= cutoff)) {
        --chances;
        live.last_used = sent;
        st.lru.splice(st.lru.begin(), st.lru, live.lru);
        continue;
      }
      passivate(stream_id);
    }
  }

  void passivate(std::string stream_id) const {  // by value: callers pass a key of `live`, erased here
    auto& st = self->state;
    auto it = st.live.find(stream_id);
    if (it == st.live.end()) return;
    directory->remove(stream_id);  // first: no command sent straight to it can follow the passivate
    self->send(it->second.actor, passivate_atom::value);
    st.lru.erase(it->second.lru);
    st.live.erase(it);
    st.draining[stream_id];
    context->metrics->passivations->inc();
    count_live();
  }

  void count_live() const { context->metrics->live_actors->set(static_cast<double>(self->state.live.size())); }

  void handle(HandleRequest& request) const {
    auto stream_id = request.stream_id;
    admit(request);
    directory->routed(stream_id);
  }

  void admit(HandleRequest& request) const {
    auto& st = self->state;
    if (st.shutdown) return request.reply(HandleResult::failure(Status::failed, "the runtime is shutting down"));
    try {
      validate_stream_id(request.stream_id);
    } catch (const std::exception& e) {
      return request.reply(HandleResult::failure(Status::invalid, e.what()));
    }
    const auto* spec = context->app->actor_for_stream(request.stream_id);
    if (!spec)
      return request.reply(
          HandleResult::failure(Status::invalid, "no actor owns stream '" + request.stream_id + "'"));
    auto draining = st.draining.find(request.stream_id);
    if (draining != st.draining.end()) return draining->second.push_back(std::move(request));
    auto stream_id = request.stream_id;
    route(std::move(request), spec);
    published(stream_id);
  }

  // The stream's actor goes into the directory (again), and the actors beyond the limit go.
  void published(const std::string& stream_id) const {
    directory->add(stream_id, self->state.live.at(stream_id).actor);
    if (self->state.live.size() > options.max_live_actors) passivate_unused();
  }

  void stopped(const caf::actor_addr& address) const {
    auto& st = self->state;
    auto found = st.stream_of.find(address);
    if (found == st.stream_of.end()) return;
    auto stream_id = std::move(found->second);
    st.stream_of.erase(found);
    auto live = st.live.find(stream_id);
    if (live != st.live.end() && live->second.actor.address() == address) {  // it died while live
      directory->remove(stream_id);
      st.lru.erase(live->second.lru);
      st.live.erase(live);
      count_live();
    }
    auto draining = st.draining.find(stream_id);
    if (draining != st.draining.end()) {
      auto waiting = std::move(draining->second);
      st.draining.erase(draining);
      for (auto& request : waiting) {
        if (st.shutdown) {
          request.reply(HandleResult::failure(Status::failed, "the runtime is shutting down"));
          continue;
        }
        route(std::move(request), context->app->actor_for_stream(stream_id));
      }
      if (st.live.count(stream_id)) published(stream_id);
    }
    finish_shutdown_if_done();
  }

  void finish_shutdown_if_done() const {
    auto& st = self->state;
    if (!st.shutdown || !st.stream_of.empty()) return;
    st.shutdown->deliver(true);
    self->quit();
  }
};

}  // namespace

supervisor_actor::behavior_type supervisor(Self self, std::shared_ptr<const StreamContext> context,
                                           std::shared_ptr<Directory> directory, SupervisorOptions options) {
  Supervisor sup{self, std::move(context), std::move(directory), options};
  auto period = std::max<std::chrono::milliseconds>(std::min<std::chrono::milliseconds>(options.idle_timeout / 2,
                                                                                        std::chrono::seconds(1)),
                                                    std::chrono::milliseconds(10));
  self->set_down_handler([sup](caf::down_msg& down) { sup.stopped(down.source); });
  self->delayed_send(self, period, tick_atom::value);
  return {
      [sup](handle_atom, HandleRequest& request) { sup.handle(request); },
      [sup, period](tick_atom) {
        sup.passivate_unused();
        if (!sup.self->state.shutdown) sup.self->delayed_send(sup.self, period, tick_atom::value);
      },
      [sup](live_atom) { return sup.self->state.live.size(); },
      // Stops every stream actor after its queued commands (in-flight appends finish), then quits.
      [sup](shutdown_atom) -> caf::result<bool> {
        auto& st = sup.self->state;
        st.shutdown = sup.self->make_response_promise<bool>();
        while (!st.lru.empty()) sup.passivate(*st.lru.back());
        auto promise = *st.shutdown;
        sup.finish_shutdown_if_done();
        return promise;
      },
  };
}

}  // namespace cairn
