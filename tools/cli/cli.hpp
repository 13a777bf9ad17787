// What the `cairn` CLI's commands share: the database choice and the command registration hooks.
#pragma once

#include <memory>
#include <string>

#include <CLI/CLI.hpp>

#include "backends/store.hpp"
#include "runtime/handle_result.hpp"
#include "runtime/runtime.hpp"

namespace cairn::cli {

struct Context {
  std::string database_url;  // --db, else CAIRN_DATABASE_URL
  // The PostgreSQL store; throws BadInput when no database was named.
  std::unique_ptr<Store> open_store() const;
  // A runtime on the database with these application modules loaded.
  std::unique_ptr<Runtime> open_runtime(const std::vector<std::string>& modules) const;
  const std::string& require_database() const;
};

// A command that ran but did not succeed: its exit code comes from the handle status.
class CommandFailed : public std::runtime_error {
 public:
  CommandFailed(HandleResult::Status s, const std::string& what) : std::runtime_error(what), status(s) {}
  HandleResult::Status status;
};

// --correlation-id: the trace a command or message starts (e.g. an HTTP request id); default its own id.
inline void add_correlation_option(CLI::App* cmd, std::string& correlation_id) {
  cmd->add_option("--correlation-id", correlation_id,
                  "Start the trace with this id (at most 200 bytes of UTF-8) instead of the message's own id");
}

void add_schema_commands(CLI::App& app, Context& context);
void add_store_commands(CLI::App& app, Context& context);
void add_app_commands(CLI::App& app, Context& context);
void add_group_commands(CLI::App& app, Context& context);

}  // namespace cairn::cli
