#include "runtime/runtime.hpp"

#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <thread>

#include "actors/supervisor.hpp"
#include "actors/writer.hpp"
#include "backends/memory/memory_store.hpp"
#include "backends/postgres/migrations.hpp"
#include "backends/postgres/postgres_store.hpp"
#include "runtime/rehydrate.hpp"

namespace cairn {

Config Config::from_env() {
  Config config;
  if (const char* url = std::getenv("CAIRN_DATABASE_URL")) config.database_url = url;
  return config;
}

struct Runtime::Impl {
  explicit Impl(Config c) : config(std::move(c)) {
    if (config.database_url.empty()) {
      store = std::make_unique<MemoryStore>(config.limits);
    } else {
      if (config.migrate) postgres::migrate(config.database_url);
      store = std::make_unique<PostgresStore>(config.database_url, config.limits, config.pool_size);
    }
  }

  // Actors start with the first command, so the application can be registered after construction.
  void start() {
    std::lock_guard lock(mutex);
    if (system) return;
    if (stopped) throw StoreError("the runtime is shut down");
    size_t threads = config.scheduler_threads;
    if (threads == 0) threads = std::max<size_t>(4, 2 * std::thread::hardware_concurrency());
    // Stream actors read the store (rehydration) on scheduler threads, so keep more threads than cores.
    caf_config.set("scheduler.max-threads", threads);
    system = std::make_unique<caf::actor_system>(caf_config);
    for (size_t i = 0; i < std::max<size_t>(config.writers, 1); ++i)
      writers.push_back(system->spawn<caf::detached>(writer, store.get(), config.writer_batch));
    auto context = std::make_shared<StreamContext>(StreamContext{&app, store.get(), config.conflict_retries});
    supervisor_handle = system->spawn(supervisor, context, writers,
                                      SupervisorOptions{config.idle_timeout, config.max_live_actors});
  }

  const ActorSpec& actor_for(const std::string& stream_id) const {
    validate_stream_id(stream_id, config.limits);
    const auto* spec = app.actor_for_stream(stream_id);
    if (!spec) throw BadInput("no actor owns stream '" + stream_id + "'");
    return *spec;
  }

  // Counts commands in flight so shutdown can wait for them.
  struct InFlight {
    Impl* impl;
    explicit InFlight(Impl* i) : impl(i) {
      std::lock_guard lock(impl->mutex);
      if (impl->stopping) throw StoreError("the runtime is shutting down");
      ++impl->in_flight;
    }
    ~InFlight() {
      std::lock_guard lock(impl->mutex);
      if (--impl->in_flight == 0) impl->idle.notify_all();
    }
  };

  Config config;
  Application app;
  std::unique_ptr<Store> store;
  caf::actor_system_config caf_config;
  std::unique_ptr<caf::actor_system> system;
  std::vector<writer_actor> writers;
  supervisor_actor supervisor_handle;
  std::mutex mutex;
  std::condition_variable idle;
  int in_flight = 0;
  bool stopping = false;
  bool stopped = false;
};

Runtime::Runtime(Config config) : impl_(std::make_unique<Impl>(std::move(config))) {}

Runtime::~Runtime() { shutdown(); }

Application& Runtime::app() {
  std::lock_guard lock(impl_->mutex);
  if (impl_->system) throw BadInput("register actors before the runtime handles its first command");
  return impl_->app;
}

Store& Runtime::store() { return *impl_->store; }

HandleResult Runtime::handle(const std::string& stream_id, Message command) {
  return handle_async(stream_id, std::move(command)).get();
}

std::future<HandleResult> Runtime::handle_async(const std::string& stream_id, Message command) {
  auto promise = std::make_shared<std::promise<HandleResult>>();
  auto future = promise->get_future();
  auto in_flight = std::make_shared<Impl::InFlight>(impl_.get());
  impl_->start();
  command.stream_id = stream_id;
  HandleRequest request{stream_id, std::move(command)};
  auto& system = *impl_->system;
  // The request travels as a spawn argument (CAF 0.17 dereferences a null tuple for argument-less spawns).
  auto asker = [promise, in_flight, target = impl_->supervisor_handle, &system](caf::event_based_actor* self,
                                                                                 HandleRequest req) {
    self->request(target, caf::infinite, handle_atom::value, std::move(req))
        .then([promise, in_flight](HandleResult& result) { promise->set_value(std::move(result)); },
              [promise, in_flight, &system](caf::error& error) {
                promise->set_value(HandleResult::failure(HandleResult::Status::failed, system.render(error)));
              });
  };
  system.spawn(asker, std::move(request));
  return future;
}

std::string Runtime::dispatch(const std::string& stream_id, Message command, std::optional<Timestamp> at) {
  const auto& spec = impl_->actor_for(stream_id);
  auto check = spec.command_checks.find(command.type);
  if (check == spec.command_checks.end())
    throw BadInput("actor " + spec.name + " has no decide for " + command.type);
  check->second(command.payload);
  command.stream_id = stream_id;
  if (!command.metadata.contains("producer")) command.metadata["producer"] = "dispatch";
  if (at && *at > now())
    impl_->store->schedule(command, *at);
  else
    impl_->store->append(stream_id, ExpectedSeq::any(), {command});
  return command.id;
}

std::any Runtime::load_any(const std::string& stream_id, const StreamRange& upto) {
  const auto& spec = impl_->actor_for(stream_id);
  return rehydrate(spec, impl_->app.types(), *impl_->store, stream_id, upto).state;
}

Json Runtime::state_json(const std::string& stream_id, const StreamRange& upto) {
  const auto& spec = impl_->actor_for(stream_id);
  return spec.state_to_json(rehydrate(spec, impl_->app.types(), *impl_->store, stream_id, upto).state);
}

std::any Runtime::what_if_any(const std::string& stream_id, const std::vector<Draft>& events) {
  const auto& spec = impl_->actor_for(stream_id);
  auto current = rehydrate(spec, impl_->app.types(), *impl_->store, stream_id);
  for (const auto& draft : events) {
    Message hypothetical;
    hypothetical.id = new_uuid();
    hypothetical.stream_id = stream_id;
    hypothetical.seq = current.seq + 1;
    hypothetical.type = draft.type;
    hypothetical.revision = draft.revision;
    hypothetical.payload = draft.payload;
    hypothetical.created_at = now();
    apply(spec, impl_->app.types(), current, std::move(hypothetical));
  }
  return current.state;
}

size_t Runtime::live_actors() {
  impl_->start();
  caf::scoped_actor self{*impl_->system};
  size_t count = 0;
  self->request(impl_->supervisor_handle, caf::infinite, live_atom::value)
      .receive([&](size_t n) { count = n; }, [](caf::error&) {});
  return count;
}

void Runtime::shutdown() {
  std::unique_lock lock(impl_->mutex);
  if (impl_->stopped) return;
  impl_->stopping = true;
  impl_->idle.wait(lock, [&] { return impl_->in_flight == 0; });
  impl_->stopped = true;
  if (!impl_->system) return;
  lock.unlock();
  {
    caf::scoped_actor self{*impl_->system};
    self->request(impl_->supervisor_handle, caf::infinite, shutdown_atom::value)
        .receive([](bool) {}, [](caf::error&) {});
    for (auto& w : impl_->writers) self->send_exit(w, caf::exit_reason::user_shutdown);
  }
  // Detached actors' threads end only once no handle refers to them.
  impl_->writers.clear();
  impl_->supervisor_handle = nullptr;
  impl_->system.reset();  // waits until every actor has stopped
}

}  // namespace cairn
