// `cairn-worker`: loads application modules and runs this process's share of their consumer groups
// (reactions, projectors, side effects, command delivery) until SIGTERM, SIGINT or SIGHUP.
#include <csignal>
#include <cstdlib>
#include <future>
#include <iostream>
#include <memory>
#include <thread>

#include <CLI/CLI.hpp>

#include <cairn/errors.hpp>
#include <cairn/runtime.hpp>
#include <cairn/validation.hpp>
#include <cairn/version.hpp>
#include "runtime/http/server.hpp"
#include "tools/logging.hpp"
#include "tools/options.hpp"
#include "tools/signals.hpp"

namespace {

// Exit code when a second signal cuts a drain short: not 0-2 (ok, failure, bad input), and not
// 128+N, which a shell or supervisor reads as "killed by signal N" before it could drain at all.
constexpr int interrupted_exit_code = 3;

const char* signal_name(int signal) {
  switch (signal) {
    case SIGTERM: return "SIGTERM";
    case SIGINT: return "SIGINT";
    case SIGHUP: return "SIGHUP";
  }
  return "a signal";
}

// The first SIGTERM, SIGINT or SIGHUP fulfils the returned future; a second one ends the process at
// once with interrupted_exit_code, whatever it is doing (startup, or a drain stuck in a handler).
// The signals must be blocked in every thread first.
std::future<int> watch_signals(sigset_t signals, cairn::LogSink log) {
  auto first = std::make_shared<std::promise<int>>();
  auto received = first->get_future();
  std::thread([signals, first, log = std::move(log)] {
    int signal = 0;
    sigwait(&signals, &signal);
    first->set_value(signal);
    sigwait(&signals, &signal);
    log({.level = cairn::LogLevel::warn,
         .message = std::string(signal_name(signal)) + " while draining: stopping now, progress since the last " +
                    "saved batch is redelivered (exit " + std::to_string(interrupted_exit_code) + ")"});
    std::_Exit(interrupted_exit_code);
  }).detach();
  return received;
}

cairn::LogRecord info(std::string message) { return {.level = cairn::LogLevel::info, .message = std::move(message)}; }

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "cairn-worker: run the consumer groups (reactions, projectors, side-effect handlers, command delivery) of\n"
      "Cairn application modules. Start several on one database: they share each group slice by slice\n"
      "(PostgreSQL advisory locks), and a dead worker's slices are taken over. SIGTERM, SIGINT or SIGHUP\n"
      "stops fetching, finishes the batches in flight, saves progress, releases the slices and exits 0;\n"
      "a second such signal stops it at once with exit 3 (unsaved progress is redelivered later).\n"
      "Exit codes: 0 drained, 1 failure, 2 bad flag or input, 3 stopped by a second signal."};
  cairn::tools::one_line_failures(app, "cairn-worker");
  app.set_version_flag("--version", "cairn-worker " CAIRN_VERSION);
  std::vector<std::string> modules;
  std::string database_url, groups, http;
  cairn::WorkerOptions options;
  cairn::tools::LogOptions log_options;
  uint64_t poll_ms = 100;
  if (const char* url = std::getenv("CAIRN_DATABASE_URL")) database_url = url;
  app.add_option("--app", modules, "Application module (shared library) to load; repeatable")
      ->required()
      ->allow_extra_args(false);
  app.add_option("--db", database_url, "PostgreSQL URL (default: $CAIRN_DATABASE_URL)");
  using cairn::tools::decimal;
  app.add_option("--stream-handlers", options.stream_handlers,
                 "Streams handled concurrently per group slice (default 4)")
      ->check(decimal(1, 256));
  app.add_option("--groups", groups, "Only these consumer groups, comma-separated (default: all)");
  app.add_option("--batch", options.batch_size, "Events read per batch (default 500)")->check(decimal(1, 10000));
  app.add_option("--poll-ms", poll_ms, "Polling interval when idle, in ms (default 100)")->check(decimal(1, 3600000));
  app.add_option("--max-attempts", options.max_attempts, "Attempts before a failing stream stops (default 5)")
      ->check(decimal(1, 1000));
  app.add_option("--http", http,
                 "Serve /metrics (Prometheus), /healthz and /readyz on HOST:PORT (a port alone: 127.0.0.1; "
                 "port 0 picks a free one, logged)");
  cairn::tools::add_log_options(app, log_options);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  options.poll_interval = std::chrono::milliseconds(poll_ms);
  try {
    for (size_t start = 0; start < groups.size();) {
      auto comma = groups.find(',', start);
      auto name = groups.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
      if (!name.empty()) {
        cairn::validate_type(name, {}, "--groups: consumer group");
        options.groups.push_back(name);
      }
      start = comma == std::string::npos ? groups.size() : comma + 1;
    }
    if (!http.empty()) cairn::http::parse_address(http);
  } catch (const cairn::BadInput& e) {
    std::cerr << "cairn-worker: " << e.what() << "\n";
    return 2;
  }
  if (database_url.empty()) {
    std::cerr << "cairn-worker: no database: pass --db URL or set CAIRN_DATABASE_URL\n";
    return 2;
  }

  // A closed pipe on stderr (a log reader gone) must not kill the worker mid-batch.
  std::signal(SIGPIPE, SIG_IGN);
  // The stop signals are blocked in every thread and taken by one watcher.
  auto signals = cairn::tools::block_stop_signals();
  options.log = cairn::tools::stderr_log(log_options);
  auto stop = watch_signals(signals, options.log);
  // What ends the worker: one readable line, or a JSON record among the others.
  auto failed = [&](const std::exception& e, int code) {
    if (log_options.format == "json")
      options.log({.level = cairn::LogLevel::error, .message = std::string("cairn-worker: ") + e.what()});
    else
      std::cerr << "cairn-worker: " << e.what() << "\n";
    return code;
  };
  try {
    cairn::Config config;
    config.database_url = database_url;
    cairn::Runtime runtime(config);
    for (const auto& module : modules) cairn::load_module(runtime.app(), module);
    for (const auto& group : options.groups) {
      auto names = runtime.consumer_group_names();
      if (std::find(names.begin(), names.end(), group) == names.end())
        throw cairn::BadInput("no consumer group '" + group + "' in the loaded modules");
    }
    runtime.start_consumers(options);
    if (!http.empty())
      options.log(info("serving the web console, /metrics, /healthz and /readyz on http://" + runtime.serve_http(http)));
    int signal = stop.get();
    options.log(info(std::string(signal_name(signal)) + ": draining (send another signal to stop at once)"));
    runtime.shutdown();
    options.log(info("stopped"));
  } catch (const cairn::Error& e) {
    return failed(e, cairn::exit_code(e.kind()));
  } catch (const std::exception& e) {
    return failed(e, 1);
  }
  return 0;
}
