// `cairn handle | state`: run an application module's actors against the database.
#include <cstdint>
#include <iostream>

#include <cairn/errors.hpp>
#include <cairn/runtime.hpp>
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
      MessageArgs message;
    };
    auto args = std::make_shared<Args>();
    auto* cmd = app.add_subcommand("handle", "Handle a command now; prints the events it produced (JSON lines), or "
                                             "exits 4 with 'rejected (CODE): TEXT' on stderr");
    cmd->add_option("--app", args->modules, "Application module (shared library); repeatable")->required()->allow_extra_args(false);
    add_message_arguments(cmd, args->message, "Command", true);
    cmd->callback([&context, args] {
      auto command = message_from(args->message);
      auto runtime = context.open_runtime(args->modules);
      auto result = runtime->handle(args->message.stream, std::move(command), Trace{args->message.correlation_id});
      runtime->shutdown();
      for (const auto& event : result.events) std::cout << Json(event).dump() << "\n";
      // One line on stderr a script can split: "cairn: rejected (CODE): TEXT", exit 4.
      if (result.status == HandleResult::Status::rejected)
        throw CommandFailed(result.status, "rejected (" + result.rejection_code + "): " + result.error);
      if (!result.ok()) throw CommandFailed(result.status, result.error);
    });
  }
  {
    struct Args {
      std::vector<std::string> modules;
      std::string stream, upto_time;
      int64_t upto_seq = 0;
    };
    auto args = std::make_shared<Args>();
    auto* cmd = app.add_subcommand("state", "Print a stream's state as JSON, now or as of a seq or a time");
    cmd->add_option("--app", args->modules, "Application module defining the stream's actor (required); repeatable")
        ->allow_extra_args(false);
    cmd->add_option("stream", args->stream, "Stream id")->required();
    auto* seq = cmd->add_option("--upto-seq", args->upto_seq, "The state after this seq")
                    ->check(tools::decimal(0, INT64_MAX));
    auto* time = cmd->add_option("--upto-time", args->upto_time,
                                 "The state as of this time (RFC 3339, e.g. 2026-11-26T11:02:31Z)")
                     ->excludes(seq);
    cmd->callback([&context, args, seq, time] {
      validate_stream_id(args->stream);
      StreamRange range;
      if (seq->count()) range.upto_seq = args->upto_seq;
      if (time->count()) range.upto_time = parse_time(args->upto_time);
      // Checked here rather than by CLI11, to say why: the log stores events, not states.
      if (args->modules.empty())
        throw BadInput("state needs --app MODULE: a state is not stored, it is computed by folding the "
                       "stream's events with its actor's evolve functions, which live in the application module "
                       "(`cairn read " + args->stream + "` prints the stored events without one)");
      auto runtime = context.open_runtime(args->modules);
      std::cout << runtime->state_json(args->stream, range).dump() << "\n";
    });
  }
}

}  // namespace cairn::cli
