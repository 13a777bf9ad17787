// `cairn console`: Cairn's HTTP endpoint on its own, against a database: the web console at "/"
// (runtime/console), /metrics (what the store says: lag, stopped streams, owners, the feed's
// horizon), /healthz and /readyz. It runs no consumer.
#include <csignal>
#include <mutex>

#include <cairn/application.hpp>
#include <cairn/errors.hpp>
#include "backends/postgres/migrations.hpp"
#include "backends/postgres/postgres_store.hpp"
#include <cairn/runtime.hpp>
#include "runtime/console/console_routes.hpp"
#include "runtime/http/endpoint.hpp"
#include "tools/cli/cli.hpp"
#include "tools/logging.hpp"
#include "tools/signals.hpp"

namespace cairn::cli {
namespace {

// The store, opened when first needed and kept: the console starts (and answers /healthz and
// /readyz) while the database is away or not migrated yet.
class LazyStore {
 public:
  LazyStore(std::string url, Metrics& metrics) : url_(std::move(url)), metrics_(metrics) {}
  Store& get() {
    std::lock_guard lock(mutex_);
    if (!store_) store_ = std::make_unique<PostgresStore>(url_, Limits{}, 2, &metrics_);
    return *store_;
  }

 private:
  std::string url_;
  Metrics& metrics_;
  std::mutex mutex_;
  std::unique_ptr<Store> store_;
};

// The web console's runtime (the store, the modules' actors for states, their consumers for
// resets), made when first needed for the same reason. It starts no actor and no consumer.
class LazyRuntime {
 public:
  LazyRuntime(std::string url, std::vector<std::string> modules) : url_(std::move(url)), modules_(std::move(modules)) {}
  Runtime& get() {
    std::lock_guard lock(mutex_);
    if (!runtime_) {
      Config config;
      config.database_url = url_;
      auto runtime = std::make_unique<Runtime>(config);
      for (const auto& module : modules_) load_module(runtime->app(), module);
      runtime_ = std::move(runtime);
    }
    return *runtime_;
  }

 private:
  std::string url_;
  std::vector<std::string> modules_;
  std::mutex mutex_;
  std::unique_ptr<Runtime> runtime_;
};

}  // namespace

void add_console_command(CLI::App& app, Context& context) {
  struct Args {
    std::vector<std::string> modules;
    std::string http = "127.0.0.1:9464";
    tools::LogOptions log;
  };
  auto args = std::make_shared<Args>();
  auto* cmd = app.add_subcommand(
      "console", "Serve Cairn's HTTP endpoint for the database, without running consumers: the web console at / "
                 "(actions need CAIRN_CONSOLE_TOKEN, else read-only), /metrics (read from the store), /healthz and "
                 "/readyz; until SIGTERM or SIGINT");
  cmd->add_option("--app", args->modules,
                  "Application module (shared library), for the console's states and resets; repeatable")
      ->allow_extra_args(false);
  cmd->add_option("--http", args->http, "Listen on HOST:PORT (a port alone: 127.0.0.1; port 0 picks a free one, logged)")
      ->capture_default_str();
  tools::add_log_options(*cmd, args->log);
  cmd->callback([&context, args] {
    const auto& url = context.require_database();
    http::parse_address(args->http);  // a bad address is bad input (exit 2), before anything starts
    Application application;  // a module that cannot load is bad input (exit 2) now, not on a page later
    for (const auto& module : args->modules) load_module(application, module);
    auto log = tools::stderr_log(args->log);
    std::signal(SIGPIPE, SIG_IGN);  // a log reader gone must not kill it
    auto signals = tools::block_stop_signals();  // before the server's threads start; waited for below

    Metrics metrics;
    LazyStore store(url, metrics);
    http::add_build_info(metrics);
    http::add_store_metrics(metrics, [&store]() -> Store& { return store.get(); });
    LazyRuntime runtime(url, args->modules);
    auto options = console::options_from_environment();
    bool read_only = options.token.empty();
    http::Server server(console::server_options());
    console::add_console_routes(
        server, std::make_shared<console::Console>([&runtime]() -> Runtime& { return runtime.get(); }, options));
    http::add_endpoint_routes(server, {&metrics, [&url] {
                                         std::vector<std::string> problems;
                                         if (auto problem = postgres::database_problem(url))
                                           problems.push_back(*problem);
                                         return problems;
                                       }});
    auto bound = server.start(args->http);
    log({.level = LogLevel::info, .message = "console serving the web console, /metrics, /healthz and /readyz on http://" + bound});
    if (read_only)
      log({.level = LogLevel::info, .message = "the web console is read-only: CAIRN_CONSOLE_TOKEN is not set"});
    int signal = 0;
    sigwait(&signals, &signal);
    log({.level = LogLevel::info, .message = "stopping (signal " + std::to_string(signal) + ")"});
    server.stop();
  });
}

}  // namespace cairn::cli
