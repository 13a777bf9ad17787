// Worker options for tests: quick polling, no log lines.
#pragma once

#include <string>
#include <vector>

#include "runtime/runtime.hpp"

namespace cairn::testing {

inline WorkerOptions quiet_workers(std::vector<std::string> groups = {}) {
  WorkerOptions options;
  options.groups = std::move(groups);
  options.poll_interval = std::chrono::milliseconds(10);
  options.log = [](const std::string&) {};
  return options;
}

}  // namespace cairn::testing
