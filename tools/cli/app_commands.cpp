// `cairn handle | state`: run an application module's actors against the database.
#include <iostream>

#include "runtime/errors.hpp"
#include "runtime/runtime.hpp"
#include "tools/cli/cli.hpp"

namespace cairn::cli {
std::unique_ptr<Runtime> Context::open_runtime(const std::vector<std::string>& modules) const {
  Config config;
  config.database_url = require_database();
  auto runtime = std::make_unique<Runtime>(config);
  for (const auto& module : modules) load_module(runtime->app(), module);
  return runtime;
}

void add_app_commands(CLI::App& app, Context& context) {
  {
    struct Args {
      std::vector<std::string> modules;
      std::string stream, type, payload, metadata, correlation_id;
    };
    auto args = std::make_shared<Args>();
    auto* cmd = app.add_subcommand("handle", "Handle a command now; prints the events it produced (JSON lines)");
    cmd->add_option("--app", args->modules, "Application module (shared library); repeatable")->required()->allow_extra_args(false);
    cmd->add_option("stream", args->stream, "Stream id, e.g. cart-42")->required();
    cmd->add_option("type", args->type, "Command type, e.g. carts.add_item")->required();
    cmd->add_option("json", args->payload, "Payload: a JSON object")->required();
    cmd->add_option("--metadata", args->metadata, "Metadata: a JSON object (Cairn's own keys are refused)");
    add_correlation_option(cmd, args->correlation_id);
    cmd->callback([&context, args] {
      auto runtime = context.open_runtime(args->modules);
      auto command = make_message(args->stream, args->type, parse_json(args->payload, "the payload"),
                                  args->metadata.empty() ? Json::object() : parse_json(args->metadata, "--metadata"));
      if (!command.metadata.contains("producer")) command.metadata["producer"] = "cairn-cli";
      auto result = runtime->handle(args->stream, std::move(command), Trace{args->correlation_id});
      runtime->shutdown();
      for (const auto& event : result.events) std::cout << Json(event).dump() << "\n";
      if (!result.ok()) throw CommandFailed(result.status, result.error);
    });
  }
  {
    struct Args {
      std::vector<std::string> modules;
      std::string stream, upto_time;
      int64_t upto_seq = -1;
    };
    auto args = std::make_shared<Args>();
    auto* cmd = app.add_subcommand("state", "Print a stream's state as JSON, now or as of a seq or a time");
    cmd->add_option("--app", args->modules, "Application module defining the stream's actor (required); repeatable")
        ->allow_extra_args(false);
    cmd->add_option("stream", args->stream, "Stream id")->required();
    auto* seq = cmd->add_option("--upto-seq", args->upto_seq, "The state after this seq");
    cmd->add_option("--upto-time", args->upto_time, "The state as of this time (RFC 3339)")->excludes(seq);
    cmd->callback([&context, args] {
      // Checked here rather than by CLI11, to say why: the log stores events, not states.
      if (args->modules.empty())
        throw BadInput("state needs --app MODULE: a state is not stored, it is computed by folding the "
                       "stream's events with its actor's evolve functions, which live in the application module "
                       "(`cairn read " + args->stream + "` prints the stored events without one)");
      auto runtime = context.open_runtime(args->modules);
      StreamRange range;
      if (args->upto_seq >= 0) range.upto_seq = args->upto_seq;
      if (!args->upto_time.empty()) range.upto_time = parse_time(args->upto_time);
      std::cout << runtime->state_json(args->stream, range).dump() << "\n";
    });
  }
}

}  // namespace cairn::cli
