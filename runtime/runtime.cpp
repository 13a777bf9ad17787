#include <cairn/runtime.hpp>

#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <thread>

#include <malloc.h>
#include <unistd.h>

#include <iostream>

#include "actors/group_runner.hpp"
#include "backends/postgres/notifier.hpp"
#include "actors/supervisor.hpp"
#include "actors/writer.hpp"
#include "backends/memory/memory_store.hpp"
#include "backends/postgres/migrations.hpp"
#include "backends/postgres/postgres_store.hpp"
#include "runtime/console/console_routes.hpp"
#include "runtime/http/endpoint.hpp"
#include "runtime/reactions.hpp"
#include "actors/rehydrate.hpp"

namespace cairn {

namespace {

// A catch-up frees a feed page (half a megabyte of libpq result and decoded messages) and allocates
// the next one hundreds of times a second. glibc hands freed memory at the top of the heap back to
// the kernel past 128 KiB, so each page was faulted in again: 10-20% of a no-op catch-up's time,
// and most of its system time (docs/BENCHMARKS.md). Up to 64 MiB stays for reuse instead, unless
// the operator chose a threshold with MALLOC_TRIM_THRESHOLD_.
void keep_freed_memory() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (!std::getenv("MALLOC_TRIM_THRESHOLD_")) mallopt(M_TRIM_THRESHOLD, 64 << 20);
  });
}

// One promotion round. A message that could not be delivered is kept by the store; say so once,
// when it is found, since nothing else will.
void promote_scheduled(Store& store, Wakeup& wakeup, const LogSink& log) {
  try {
    auto promotion = store.promote_due(now(), 100);
    for (const auto& kept : promotion.undeliverable)
      log({.level = LogLevel::warn,
           .message = "scheduled message " + kept.id + " for " + kept.stream_id + " could not be delivered: " +
                      kept.error + " (kept; `cairn status` lists it)",
           .stream_id = kept.stream_id,
           .message_id = kept.id});
    if (!promotion.appended.empty()) wakeup.appended();
  } catch (const std::exception& e) {
    log({.level = LogLevel::warn, .message = std::string("promoting scheduled messages: ") + e.what()});
  }
}

// A Notifier's complaints (LISTEN failed) as records.
std::function<void(const std::string&)> warnings_to(LogSink log) {
  return [log = std::move(log)](const std::string& line) { log({.level = LogLevel::warn, .message = line}); };
}

}  // namespace

Config Config::from_env() {
  Config config;
  if (const char* url = std::getenv("CAIRN_DATABASE_URL")) config.database_url = url;
  return config;
}

struct Runtime::Impl final : ConsumerServices {
  explicit Impl(Config c) : config(std::move(c)) {
    static std::atomic<int> runtimes{0};
    nth = ++runtimes;
    if (config.database_url.empty()) {
      store = std::make_unique<MemoryStore>(config.limits);
    } else {
      if (config.migrate) postgres::migrate(config.database_url);
      store = std::make_unique<PostgresStore>(config.database_url, config.limits, config.pool_size, &metrics);
    }
    if (config.wrap_store) store = config.wrap_store(std::move(store));
    http::add_build_info(metrics);
    http::add_store_metrics(metrics, [this]() -> Store& { return *store; });
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
    // Work sharing: idle workers block on a condition variable. Work stealing polls with 50 us
    // sleeps, which took ~40% of a command-heavy process's CPU from PostgreSQL on a small machine.
    caf_config.set("scheduler.policy", caf::atom("sharing"));
    system = std::make_unique<caf::actor_system>(caf_config);
    write_metrics = std::make_unique<WritePathMetrics>(metrics, app);
    writer = std::make_unique<Writer>(*store, config.writers, config.writer_batch, wakeup, *write_metrics);
    if (!config.database_url.empty()) notifier = std::make_unique<Notifier>(config.database_url, wakeup, false, nullptr);
    auto context = std::make_shared<StreamContext>(
        StreamContext{&app, store.get(), config.max_queued_commands, write_metrics.get(), writer.get()});
    supervisor_handle = system->spawn(supervisor, context, directory,
                                      SupervisorOptions{config.idle_timeout, config.max_live_actors});
  }

  const ActorSpec& actor_for(const std::string& stream_id) const {
    validate_stream_id(stream_id, config.limits);
    const auto* spec = app.actor_for_stream(stream_id);
    if (!spec) throw BadInput("no actor owns stream '" + stream_id + "'");
    return *spec;
  }

  std::future<HandleResult> request(HandleRequest request);

  // A command's payload and metadata before anything copies them (copies recurse): bounded depth,
  // text a store can write. The store checks the rest when it appends.
  void check_json(const Message& command) const {
    validate_message_json(command, "command", config.limits);
  }

  void send_commands(const std::string& group, const Message& cause, const Commands& commands) override {
    for (size_t i = 0; i < commands.size(); ++i) {
      const auto& c = commands[i];
      Message m;
      m.id = reaction_command_id(group, cause, i);
      m.stream_id = c.stream_id;
      m.type = c.command.type;
      m.revision = c.command.revision;
      m.payload = c.command.payload;
      auto correlation = metadata_string(cause.metadata, "correlation_id");
      m.metadata = {{"correlation_id", correlation.empty() ? cause.id : correlation},
                    {"causation_id", cause.id},
                    {"producer", group}};
      mark_dispatched(m);
      if (auto due = c.due(cause); due > now())
        store->schedule(std::move(m), due);
      else
        store->append(c.stream_id, ExpectedSeq::any(), {std::move(m)});  // a repeat is idempotent (same id)
    }
    if (!commands.empty()) wakeup->appended();
  }

  HandleResult deliver(const Message& command, const ProgressMark& mark) override {
    return request({command.stream_id, command, true, mark}).get();
  }
  const TypeRegistry& types() const override { return app.types(); }

  std::shared_ptr<Consumer> consumer(const std::string& group) const {
    for (auto& consumer : consumer_groups(app))
      if (consumer->options().group == group) return consumer;
    return nullptr;
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
  Metrics metrics;  // before the store, whose pool reports to it
  std::unique_ptr<Store> store;
  std::unique_ptr<WritePathMetrics> write_metrics;  // once the application is fixed (start)
  std::unique_ptr<http::Server> http;
  std::atomic<bool> shutting_down{false};
  // The consumer groups' runners in this process, for readiness.
  std::mutex reports_mutex;
  std::vector<std::shared_ptr<RunnerReport>> reports;
  int nth = 0;  // this runtime is the nth of its process
  caf::actor_system_config caf_config;
  std::unique_ptr<caf::actor_system> system;
  std::unique_ptr<Writer> writer;
  supervisor_actor supervisor_handle;
  std::shared_ptr<Directory> directory = std::make_shared<Directory>();
  std::shared_ptr<Wakeup> wakeup = std::make_shared<Wakeup>();
  std::unique_ptr<Notifier> notifier;  // PostgreSQL only: cross-process wake-ups
  // Consumer groups run by this process.
  std::shared_ptr<std::atomic<bool>> consumers_stopping;
  std::vector<caf::actor> runners;
  std::thread promoter;
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

const Application& Runtime::application() const { return impl_->app; }

Store& Runtime::store() { return *impl_->store; }

HandleResult Runtime::handle(const std::string& stream_id, Message command, const Trace& trace) {
  return handle_async(stream_id, std::move(command), trace).get();
}

std::future<HandleResult> Runtime::handle_async(const std::string& stream_id, Message command, const Trace& trace) {
  start_trace(command, trace, impl_->config.limits);
  command.stream_id = stream_id;
  try {
    impl_->check_json(command);
  } catch (const BadInput& e) {
    std::promise<HandleResult> refused;
    refused.set_value(HandleResult::failure(HandleResult::Status::invalid, e.what()));
    return refused.get_future();
  }
  return impl_->request({stream_id, std::move(command)});
}

std::future<HandleResult> Runtime::Impl::request(HandleRequest request) {
  request.reply = Reply(std::make_shared<InFlight>(this));
  auto future = request.reply.future();
  start();
  // A live stream's command goes straight to its actor; the supervisor routes the rest.
  if (!directory->send(request)) caf::anon_send(supervisor_handle, handle_atom::value, std::move(request));
  return future;
}

std::string Runtime::dispatch(const std::string& stream_id, Message command, std::optional<Timestamp> at,
                              const Trace& trace) {
  const auto& spec = impl_->actor_for(stream_id);
  impl_->check_json(command);
  auto check = spec.command_checks.find(command.type);
  if (check == spec.command_checks.end())
    throw BadInput("actor " + spec.name + " has no decide for " + command.type);
  check->second(command.payload);
  start_trace(command, trace, impl_->config.limits);
  command.stream_id = stream_id;
  if (!command.metadata.contains("producer")) command.metadata["producer"] = "dispatch";
  mark_dispatched(command);
  if (at && *at > now())
    impl_->store->schedule(command, *at);
  else
    impl_->store->append(stream_id, ExpectedSeq::any(), {command});
  impl_->wakeup->appended();
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

Metrics& Runtime::metrics() { return impl_->metrics; }

Readiness Runtime::readiness() {
  Readiness out;
  if (impl_->shutting_down) out.problems.push_back("the runtime is shutting down");
  if (const auto& url = impl_->config.database_url; !url.empty())
    if (auto problem = postgres::database_problem(url)) out.problems.push_back(*problem);
  std::lock_guard lock(impl_->reports_mutex);
  for (const auto& report : impl_->reports)
    if (auto problem = report->problem()) out.problems.push_back(*problem);
  return out;
}

std::string Runtime::serve_http(const std::string& address) {
  {
    std::lock_guard lock(impl_->mutex);
    if (impl_->stopping) throw StoreError("the runtime is shut down");
    if (impl_->http) throw BadInput("the runtime already serves HTTP");
    impl_->http = std::make_unique<http::Server>(console::server_options());
  }
  console::add_console_routes(*impl_->http, std::make_shared<console::Console>(*this, console::options_from_environment()));
  http::add_endpoint_routes(*impl_->http, {&impl_->metrics, [this] { return readiness().problems; }});
  try {
    return impl_->http->start(address);
  } catch (...) {
    std::lock_guard lock(impl_->mutex);
    impl_->http.reset();
    throw;
  }
}

size_t Runtime::live_actors() {
  impl_->start();
  caf::scoped_actor self{*impl_->system};
  size_t count = 0;
  self->request(impl_->supervisor_handle, caf::infinite, live_atom::value)
      .receive([&](size_t n) { count = n; }, [](caf::error&) {});
  return count;
}

std::vector<std::string> Runtime::consumer_group_names() {
  std::vector<std::string> names;
  for (const auto& consumer : consumer_groups(impl_->app)) names.push_back(consumer->options().group);
  return names;
}

bool Runtime::wait_for(const std::string& group, const std::string& stream_id, int64_t seq,
                       std::chrono::milliseconds timeout) {
  auto consumer = impl_->consumer(group);
  if (!consumer) throw BadInput("no consumer group '" + group + "' in this application");
  const auto& types = consumer->options().types;  // empty: every type
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto seen = impl_->wakeup->epoch();
    auto progress = impl_->store->load_progress(group, {stream_id});
    int64_t done = progress.empty() ? 0 : progress.front().seq;
    if (done >= seq) return true;
    // Runners keep a stream's own mark only while it is ahead of its slice's cursor.
    bool failed = !progress.empty() && (progress.front().stopped || progress.front().failed_seq > 0);
    if (!failed && impl_->store->cursor_passed(group, stream_id, seq)) return true;
    // Nothing left that this group reads (other types, or already handled) counts as caught up.
    bool pending = false;
    for_each_message(*impl_->store, stream_id, {done, seq, std::nullopt}, [&](const Message& m) {
      pending = pending || types.empty() || std::find(types.begin(), types.end(), m.type) != types.end();
    });
    if (!pending) return true;
    auto left = deadline - std::chrono::steady_clock::now();
    if (left <= std::chrono::steady_clock::duration::zero()) return false;
    impl_->wakeup->wait(seen, std::min(std::chrono::duration_cast<std::chrono::milliseconds>(left),
                                       std::chrono::milliseconds(20)));
  }
}

void Runtime::reset_group(const std::string& group, std::chrono::milliseconds timeout) {
  auto& store = *impl_->store;
  auto state = store.find_group(group);
  if (!state) throw BadInput("no consumer group " + group);
  if (group == CommandDelivery::group)
    throw BadInput(group + " cannot be reset: it would decide every dispatched command in history again");
  // Its reset hook empties the read model; without it a replay would apply every event twice.
  auto consumer = impl_->consumer(group);
  if (!consumer)
    throw BadInput("consumer group " + group + " is not defined by the loaded application: pass the module "
                   "that defines it (--app), so its read model is emptied before the replay");
  consumer->require_resettable();
  // Stop the group, then hold every one of its slices: runners release a stopped group's slices
  // between batches, so once all are ours no batch is writing into the old read model anywhere.
  store.set_group_active(group, false);
  impl_->wakeup->notify();  // local runners: see the stop now
  auto resume = [&] {
    if (state->active) store.set_group_active(group, true);
    impl_->wakeup->notify();
  };
  std::vector<std::unique_ptr<SliceLease>> leases;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (uint32_t slice = 0; slice < state->slice_count; ++slice) {
    for (;;) {
      if (auto lease = store.try_lease_slice(group, slice, "cairn reset")) {
        leases.push_back(std::move(lease));
        break;
      }
      if (std::chrono::steady_clock::now() > deadline) {
        leases.clear();
        resume();
        throw StoreError("cannot reset " + group + ": slice " + std::to_string(slice) +
                         " is still busy in a worker; nothing was reset");
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  // If emptying the read model or resetting the progress throws, the group stays stopped: the two
  // may now disagree, and `cairn reset` again is the way out (`cairn status` shows it stopped).
  consumer->reset(store);
  store.reset_group(group, consumer->options().shape());  // and the group takes this version's types and slice count
  leases.clear();
  resume();
}

std::vector<std::string> Runtime::migrate() {
  std::vector<std::string> changes;
  const auto& url = impl_->config.database_url;
  if (url.empty()) return changes;
  for (const auto& name : postgres::migrate(url)) changes.push_back("applied " + name);
  for (const auto& name : postgres::create_tables(url, impl_->app.read_model_tables()))
    changes.push_back("created table " + name);
  return changes;
}

void Runtime::start_consumers(WorkerOptions options) {
  impl_->start();
  if (const auto& url = impl_->config.database_url; !url.empty()) {
    keep_freed_memory();
    auto tables = impl_->app.read_model_tables();
    if (impl_->config.migrate) postgres::create_tables(url, tables);
    // Refused here, with the way out, rather than as a failing stream per event.
    for (const auto& name : postgres::missing_tables(url, tables))
      throw BadInput("read-model table " + name + " does not exist: run `cairn migrate --app MODULE` as the schema owner");
  }
  if (impl_->consumers_stopping) throw BadInput("consumers are already running");
  if (options.owner.empty()) {
    char host[256] = "";
    gethostname(host, sizeof host - 1);
    // One per runtime: members of a group count each other's slices by owner.
    options.owner = std::string(host) + ":" + std::to_string(getpid()) +
                    (impl_->nth > 1 ? "/" + std::to_string(impl_->nth) : "");
  }
  if (!options.log) options.log = [](const LogRecord& record) { std::cerr << format_text(record) << std::endl; };
  auto stopping = std::make_shared<std::atomic<bool>>(false);
  impl_->consumers_stopping = stopping;
  if (!impl_->config.database_url.empty())
    impl_->notifier =
        std::make_unique<Notifier>(impl_->config.database_url, impl_->wakeup, true, warnings_to(options.log));
  RunnerOptions runner{options.batch_size,   options.poll_interval, options.stream_handlers,
                       options.max_attempts, options.backoff_base,  options.backoff_max,
                       options.stall_timeout};
  for (auto& consumer : consumer_groups(impl_->app)) {
    const auto& consumer_options = consumer->options();
    if (!options.groups.empty() &&
        std::find(options.groups.begin(), options.groups.end(), consumer_options.group) == options.groups.end())
      continue;
    const auto& group = consumer_options.group;
    impl_->store->ensure_group(group, consumer_options.slice_count, consumer_options.start);
    options.log({.level = LogLevel::info,
                 .message = "starting group " + group + " (" + std::to_string(consumer_options.slice_count) + " slices)",
                 .group = group});
    auto report = std::make_shared<RunnerReport>(group);
    {
      std::lock_guard lock(impl_->reports_mutex);
      impl_->reports.push_back(report);
    }
    auto context = std::make_shared<const RunnerContext>(
        RunnerContext{impl_->store.get(), impl_.get(), consumer, options.owner, runner, impl_->wakeup, stopping,
                      options.log, std::make_shared<GroupMetrics>(impl_->metrics, group), report});
    impl_->runners.push_back(impl_->system->spawn(group_runner, context));
  }
  // Scheduled messages enter their streams when due; promoting is safe from many processes at once.
  impl_->promoter = std::thread([store = impl_->store.get(), wakeup = impl_->wakeup, stopping, options] {
    while (!stopping->load()) {
      auto seen = wakeup->epoch();
      promote_scheduled(*store, *wakeup, options.log);
      wakeup->wait(seen, options.poll_interval);
    }
  });
}

void Runtime::stop_consumers() {
  if (!impl_->consumers_stopping) return;
  impl_->consumers_stopping->store(true);
  impl_->wakeup->notify();
  {
    caf::scoped_actor self{*impl_->system};
    for (auto& runner : impl_->runners) self->monitor(runner);
    for (size_t i = 0; i < impl_->runners.size(); ++i) self->receive([](const caf::down_msg&) {});
  }
  impl_->runners.clear();
  {
    std::lock_guard lock(impl_->reports_mutex);
    impl_->reports.clear();
  }
  if (impl_->promoter.joinable()) impl_->promoter.join();
  impl_->consumers_stopping.reset();
  if (!impl_->config.database_url.empty())
    impl_->notifier = std::make_unique<Notifier>(impl_->config.database_url, impl_->wakeup, false, nullptr);
}

void Runtime::shutdown() {
  impl_->shutting_down = true;  // /readyz says so while the consumers drain
  stop_consumers();
  std::unique_lock lock(impl_->mutex);
  if (impl_->stopped) return;
  impl_->stopping = true;
  impl_->idle.wait(lock, [&] { return impl_->in_flight == 0; });
  impl_->stopped = true;
  bool started = impl_->system != nullptr;
  lock.unlock();  // the endpoint's requests may need the lock: it stops below, after the actors
  if (started) {
    caf::scoped_actor self{*impl_->system};
    self->request(impl_->supervisor_handle, caf::infinite, shutdown_atom::value)
        .receive([](bool) {}, [](caf::error&) {});
  }
  impl_->notifier.reset();
  if (impl_->http) impl_->http->stop();
  if (!started) return;
  impl_->writer.reset();  // every stream actor has stopped: nothing is queued
  impl_->supervisor_handle = nullptr;
  impl_->system.reset();  // waits until every actor has stopped
}

}  // namespace cairn
