// What the `cairn` CLI's commands share: the database choice and the command registration hooks.
#pragma once

#include <memory>
#include <string>

#include <CLI/CLI.hpp>

#include <cairn/store.hpp>
#include <cairn/handle_result.hpp>
#include <cairn/runtime.hpp>
#include "tools/options.hpp"

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

// The message an `append`, `handle` or `dispatch` command line describes.
struct MessageArgs {
  std::string stream, type, payload, metadata, correlation_id;
};
// Adds STREAM TYPE JSON, --correlation-id and (with `metadata`) --metadata; `kind` is "Message" or "Command".
void add_message_arguments(CLI::App* cmd, MessageArgs& args, const std::string& kind, bool metadata);
// The message, every part checked as the store will check it (ids, type, JSON, reserved metadata
// keys, correlation id, size) before any database is touched; throws BadInput naming the part.
// Its metadata's producer is "cairn-cli" unless given; its trace is not started yet.
Message message_from(const MessageArgs& args);

// A JSON argument's text: the argument itself, `-` for stdin (once per command) or `@FILE`.
// Reading stops one byte past `limit`; more is BadInput naming `what`, the size and the limit.
std::string json_argument(const std::string& argument, const std::string& what, size_t limit);

void add_schema_commands(CLI::App& app, Context& context);
void add_store_commands(CLI::App& app, Context& context);
void add_app_commands(CLI::App& app, Context& context);
void add_group_commands(CLI::App& app, Context& context);
void add_console_command(CLI::App& app, Context& context);

}  // namespace cairn::cli
