// `cairn-worker`: loads application modules and runs this process's share of their consumer groups
// (reactions, projectors, side effects, command delivery) until SIGTERM or SIGINT.
#include <csignal>
#include <cstdlib>
#include <iostream>

#include <CLI/CLI.hpp>

#include "runtime/errors.hpp"
#include "runtime/runtime.hpp"

int main(int argc, char** argv) {
  CLI::App app{
      "cairn-worker: run the consumer groups (reactions, projectors, side-effect handlers, command delivery) of\n"
      "Cairn application modules. Start several on one database: they share each group slice by slice\n"
      "(PostgreSQL advisory locks), and a dead worker's slices are taken over. SIGTERM or SIGINT stops\n"
      "fetching, finishes the batches in flight, saves progress, releases the slices and exits 0."};
  std::vector<std::string> modules;
  std::string database_url, groups;
  cairn::WorkerOptions options;
  size_t poll_ms = 100;
  if (const char* url = std::getenv("CAIRN_DATABASE_URL")) database_url = url;
  app.add_option("--app", modules, "Application module (shared library) to load; repeatable")
      ->required()
      ->allow_extra_args(false);
  app.add_option("--db", database_url, "PostgreSQL URL (default: $CAIRN_DATABASE_URL)");
  app.add_option("--workers", options.stream_handlers,
                 "Streams handled concurrently per group slice (default 4)");
  app.add_option("--groups", groups, "Only these consumer groups, comma-separated (default: all)");
  app.add_option("--batch", options.batch_size, "Events read per batch (default 500)");
  app.add_option("--poll-ms", poll_ms, "Polling interval when idle, in ms (default 100)");
  app.add_option("--max-attempts", options.max_attempts, "Attempts before a failing stream stops (default 5)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  options.poll_interval = std::chrono::milliseconds(poll_ms);
  for (size_t start = 0; start < groups.size();) {
    auto comma = groups.find(',', start);
    auto name = groups.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    if (!name.empty()) options.groups.push_back(name);
    start = comma == std::string::npos ? groups.size() : comma + 1;
  }
  if (database_url.empty()) {
    std::cerr << "cairn-worker: no database: pass --db URL or set CAIRN_DATABASE_URL\n";
    return 2;
  }

  // Signals are taken synchronously by this thread; every other thread inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
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
    int signal = 0;
    sigwait(&signals, &signal);
    std::cerr << "cairn: " << (signal == SIGTERM ? "SIGTERM" : "SIGINT") << ": draining" << std::endl;
    runtime.shutdown();
    std::cerr << "cairn: stopped" << std::endl;
  } catch (const cairn::Error& e) {
    std::cerr << "cairn-worker: " << e.what() << "\n";
    return cairn::exit_code(e.kind());
  } catch (const std::exception& e) {
    std::cerr << "cairn-worker: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
