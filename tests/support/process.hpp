// Runs a command line in a shell and captures its exit code, stdout and stderr (for CLI tests).
#pragma once

#include <string>
#include <vector>

namespace cairn::testing {

struct ProcessResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// `args` are quoted for the shell, so hostile strings pass through verbatim.
ProcessResult run_process(const std::string& program, const std::vector<std::string>& args);

std::string shell_quote(const std::string& arg);

}  // namespace cairn::testing
