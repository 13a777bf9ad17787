// Runtimes for tests: on the backend under test, with quick and quiet consumer workers.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <cairn/runtime.hpp>
#include "tests/support/backend.hpp"
#include "tests/support/faulty_store.hpp"

namespace cairn::testing {

// A runtime on `url` (by default an emptied store of the backend under test); register actors next.
inline std::unique_ptr<Runtime> backend_runtime(std::string url = fresh_backend_url()) {
  Config config;
  config.database_url = std::move(url);
  return std::make_unique<Runtime>(config);
}

// The same on a store wrapped in a W (e.g. a ForwardingStore that injects faults), which
// `wrapped` points at once the runtime is made.
template <class W>
std::unique_ptr<Runtime> wrapped_runtime(W*& wrapped) {
  Config config;
  config.database_url = fresh_backend_url();
  wrap_store_in(config, wrapped);
  return std::make_unique<Runtime>(config);
}

inline WorkerOptions quiet_workers(std::vector<std::string> groups = {}) {
  WorkerOptions options;
  options.groups = std::move(groups);
  options.poll_interval = std::chrono::milliseconds(10);
  options.log = [](const LogRecord&) {};
  return options;
}

}  // namespace cairn::testing
