// Runs a command line in a shell and captures its exit code, stdout and stderr (for CLI tests).
#pragma once

#include <stdexcept>
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

// The whole file (e.g. a worker's log); empty when it does not exist.
std::string read_file(const std::string& path);

#ifdef CAIRN_CLI_PATH
// `cairn migrate --app MODULE`: what an operator runs before starting workers, which never run DDL.
inline void migrate_module(const std::string& database_url, const std::string& module) {
  auto result = run_process(CAIRN_CLI_PATH, {"migrate", "--app", module, "--db", database_url});
  if (result.exit_code != 0) throw std::runtime_error("cairn migrate --app " + module + " failed: " + result.err);
}
#endif

}  // namespace cairn::testing
