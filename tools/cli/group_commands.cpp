// `cairn dispatch | status | stop | resume | skip | reset | projection`: consumer groups from the shell.
#include <iomanip>
#include <iostream>
#include <sstream>

#include <cairn/errors.hpp>
#include <cairn/runtime.hpp>
#include <cairn/validation.hpp>
#include "runtime/operations.hpp"
#include "tools/cli/cli.hpp"

namespace cairn::cli {
namespace {

using operations::feed_json;
using operations::group_status;
using operations::require_group;
using operations::schedule_json;
using operations::validate_group;

void print_status(const Json& status) {
  std::cout << std::left << std::setw(28) << status["group"].get<std::string>() << std::setw(9)
            << status["state"].get<std::string>() << "lag " << status["lag_events"].get<int64_t>() << " events, "
            << std::fixed << std::setprecision(1) << status["lag_seconds"].get<double>() << " s\n";
  // The owner is the process holding the slice's lease now: one that stopped or died owns nothing.
  for (const auto& s : status["slices"]) {
    auto owner = s["owner"].get<std::string>();
    std::cout << "    slice " << s["slice"].get<int>() << ": cursor " << s["cursor"].get<std::string>() << ", "
              << (owner.empty() ? "no owner" : "owner " + owner) << ", lag " << s["lag_events"].get<int64_t>()
              << " events\n";
  }
  for (const auto& f : status["failed_streams"])
    std::cout << "    " << (f["stopped"].get<bool>() ? "stopped " : "resuming ") << f["stream_id"].get<std::string>()
              << " at seq " << f["seq"].get<int64_t>() << " (message " << f["message_id"].get<std::string>() << ", "
              << f["attempts"].get<int>() << " attempts): " << f["error"].get<std::string>() << "\n";
}

std::string describe_holder(const Json& holder) {
  std::ostringstream out;
  if (holder["pid"].get<int>() == 0)
    out << "prepared transaction '" << holder["prepared_gid"].get<std::string>() << "'";
  else
    out << "pid " << holder["pid"].get<int>() << " (" << holder["application_name"].get<std::string>() << ", "
        << holder["state"].get<std::string>() << ", query started " << holder["query_start"].get<std::string>() << ")";
  out << " in database " << holder["database"].get<std::string>() << " as " << holder["user"].get<std::string>();
  return out.str();
}

void print_feed(const Json& feed) {
  std::cout << "feed horizon: xid " << feed["horizon_xid"].get<uint64_t>();
  if (!feed["holder"].is_null())
    std::cout << ", held " << std::fixed << std::setprecision(1) << feed["age_seconds"].get<double>() << " s by "
              << describe_holder(feed["holder"]);
  else if (feed["held"].get<bool>())
    std::cout << ", held by a transaction not in pg_stat_activity (it just ended, or this role needs "
                 "pg_read_all_stats to see it)";
  else
    std::cout << ", not held";
  std::cout << "\n";
}

void print_schedule(const Json& schedule) {
  std::cout << "scheduled messages: " << schedule["pending"].get<int64_t>() << " waiting";
  if (!schedule["next_due"].is_null()) std::cout << ", next due " << schedule["next_due"].get<std::string>();
  std::cout << "\n";
}

// On stderr, so that --json output stays data.
void warn_if_stalled(const Json& feed, double warn_seconds) {
  if (!feed["stalled"].get<bool>()) return;
  const auto& holder = feed["holder"];
  std::cerr << "cairn: warning: every consumer group has waited " << std::fixed << std::setprecision(1)
            << feed["age_seconds"].get<double>() << " s (over " << warn_seconds << " s) for "
            << describe_holder(holder) << " to end its transaction: ";
  if (holder["pid"].get<int>() == 0)
    std::cerr << "COMMIT PREPARED or ROLLBACK PREPARED it\n";
  else
    std::cerr << "end it, or SELECT pg_terminate_backend(" << holder["pid"].get<int>() << ")\n";
}

// Scheduled messages that fell due but could not enter their streams: kept for an operator to
// decide on. Listed after the groups; with --json, only a warning on stderr.
void report_undeliverable(const std::vector<UndeliverableMessage>& kept, bool json) {
  if (kept.empty()) return;
  if (json) {
    std::cerr << "cairn: warning: " << kept.size()
              << " scheduled message(s) could not be delivered; `cairn status` lists them\n";
    return;
  }
  std::cout << "undeliverable scheduled messages (kept, never delivered):\n";
  for (const auto& u : kept)
    std::cout << "  " << u.id << "  " << u.stream_id << "  due " << format_time(u.due) << "  " << u.error << "\n";
}

// Projection keys are the application's (often stream ids): only checked to be text PostgreSQL takes.
constexpr size_t max_key_bytes = 1024;

}  // namespace

void add_group_commands(CLI::App& app, Context& context) {
  {
    struct Args {
      std::vector<std::string> modules;
      MessageArgs message;
      std::string at;
    };
    auto args = std::make_shared<Args>();
    auto* cmd = app.add_subcommand("dispatch", "Durably dispatch a command (a worker delivers it); prints its id");
    cmd->add_option("--app", args->modules, "Application module (shared library); repeatable")
        ->required()
        ->allow_extra_args(false);
    add_message_arguments(cmd, args->message, "Command", false);
    auto* at = cmd->add_option("--at", args->at, "Deliver no earlier than this time (RFC 3339, e.g. 2026-12-01T09:00:00Z)");
    cmd->callback([&context, args, at] {
      auto command = message_from(args->message);
      command.metadata["producer"] = "cairn-cli";
      std::optional<Timestamp> due;
      if (at->count()) due = parse_time(args->at);
      auto runtime = context.open_runtime(args->modules);
      std::cout << runtime->dispatch(args->message.stream, std::move(command), due, Trace{args->message.correlation_id})
                << "\n";
    });
  }
  {
    struct Args {
      bool json = false;
      double warn_horizon_seconds = 30;
    };
    auto args = std::make_shared<Args>();
    auto* cmd = app.add_subcommand(
        "status", "The feed's horizon and the scheduled messages waiting, then every consumer group: state, lag, "
                  "each slice's cursor, live owner and lag, stopped streams; then the scheduled messages that could "
                  "not be delivered");
    cmd->add_flag("--json", args->json,
                  "One JSON object per group, each with the feed's horizon (\"feed\") and the scheduled messages "
                  "waiting (\"scheduled\")");
    cmd->add_option("--warn-horizon-seconds", args->warn_horizon_seconds,
                    "Warn when a transaction has held the feed back longer than this")
        ->capture_default_str()
        ->check(CLI::NonNegativeNumber);
    cmd->callback([&context, args] {
      auto store = context.open_store();
      auto feed = feed_json(store->feed_health(), args->warn_horizon_seconds);
      auto schedule = schedule_json(store->schedule_summary());
      warn_if_stalled(feed, args->warn_horizon_seconds);
      if (!args->json) {
        print_feed(feed);
        print_schedule(schedule);
      }
      for (const auto& group : store->list_groups()) {
        auto status = group_status(*store, group);
        if (args->json) {
          status["feed"] = feed;
          status["scheduled"] = schedule;
          std::cout << status.dump() << "\n";
        } else {
          print_status(status);
        }
      }
      report_undeliverable(store->undeliverable_messages(100), args->json);
    });
  }
  {
    auto group = std::make_shared<std::string>();
    auto* cmd = app.add_subcommand("stop", "Stop a consumer group (workers keep their slices but fetch nothing)");
    cmd->add_option("group", *group, "Consumer group")->required();
    cmd->callback([&context, group] {
      validate_group(*group);
      operations::stop_group(*context.open_store(), *group);
    });
  }
  {
    struct Args {
      std::string group, stream;
    };
    auto args = std::make_shared<Args>();
    auto* cmd = app.add_subcommand("resume", "Resume a stopped group, or (--stream) a stopped stream from its failed event");
    cmd->add_option("group", args->group, "Consumer group")->required();
    cmd->add_option("--stream", args->stream, "Only this stopped stream");
    cmd->callback([&context, args] {
      validate_group(args->group);
      if (!args->stream.empty()) validate_stream_id(args->stream);
      auto store = context.open_store();
      if (args->stream.empty())
        operations::resume_group(*store, args->group);
      else
        operations::resume_stream(*store, args->group, args->stream, false);
    });
  }
  {
    struct Args {
      std::string group, stream;
    };
    auto args = std::make_shared<Args>();
    auto* cmd = app.add_subcommand("skip", "Skip a stopped stream's failed (poison) event and go on");
    cmd->add_option("group", args->group, "Consumer group")->required();
    cmd->add_option("--stream", args->stream, "The stopped stream")->required();
    cmd->callback([&context, args] {
      validate_group(args->group);
      validate_stream_id(args->stream);
      operations::resume_stream(*context.open_store(), args->group, args->stream, true);
    });
  }
  {
    struct Args {
      std::string group;
      std::vector<std::string> modules;
    };
    auto args = std::make_shared<Args>();
    auto* cmd = app.add_subcommand(
        "reset", "Empty a group's read model and re-deliver its history (replaying); the group takes the "
                 "module's event types and slice count");
    cmd->add_option("group", args->group, "Consumer group")->required();
    cmd->add_option("--app", args->modules, "The module defining the group (runs its reset hook)")
        ->required()
        ->allow_extra_args(false);
    cmd->callback([&context, args] {
      validate_group(args->group);
      auto runtime = context.open_runtime(args->modules);
      auto before = require_group(runtime->store(), args->group);
      runtime->reset_group(args->group);
      auto after = require_group(runtime->store(), args->group);
      std::cout << "reset " << args->group << ": ran its reset hook (a projector's empties the read model) and "
                << "cleared its progress; workers re-deliver its events up to " << after.replay_until.str()
                << " as a replay (side effects stay quiet), on " << after.slice_count << " slices";
      if (after.slice_count != before.slice_count) std::cout << " (was " << before.slice_count << ")";
      std::cout << "; the group is " << (after.active ? "active" : "stopped") << "\n";
    });
  }
  {
    struct Args {
      std::string group, key, after;
      size_t limit = 100;
      bool json = false;
    };
    auto args = std::make_shared<Args>();
    auto* cmd = app.add_subcommand(
        "projection", "Print a state-stored or event-sourced projector's views (cairn.projections): one key's, or "
                      "a page of them in key order. An SQL projector's views are in its own tables");
    cmd->add_option("group", args->group, "The projector's consumer group")->required();
    auto* key = cmd->add_option("key", args->key, "Only this key's view (an event-sourced projector's key is the stream id)");
    cmd->add_option("--limit", args->limit, "At most this many views")
        ->capture_default_str()
        ->check(tools::decimal(1, 10000))
        ->excludes(key);
    cmd->add_option("--after", args->after, "The views after this key (the last key of the previous page)")
        ->excludes(key);
    cmd->add_flag("--json", args->json, "JSON lines: {\"key\": ..., \"state\": ...}");
    cmd->callback([&context, args] {
      validate_group(args->group);
      if (!args->key.empty()) validate_text(args->key, "projection key", max_key_bytes);
      if (!args->after.empty()) validate_text(args->after, "--after", max_key_bytes);
      auto store = context.open_store();
      require_group(*store, args->group);
      auto print = [&](const ProjectionView& view) {
        if (args->json)
          std::cout << Json{{"key", view.key}, {"state", view.state}}.dump() << "\n";
        else
          std::cout << view.key << "  " << view.state.dump() << "\n";
      };
      if (!args->key.empty()) {
        auto state = store->load_projection(args->group, args->key);
        if (!state) throw BadInput("consumer group " + args->group + " has no view for key '" + args->key + "'");
        if (args->json)
          print({args->key, *state});
        else
          std::cout << state->dump() << "\n";
        return;
      }
      // One more than asked for tells whether another page follows.
      auto page = store->list_projections(args->group, args->after, args->limit + 1);
      bool more = page.size() > args->limit;
      if (more) page.pop_back();
      for (const auto& view : page) print(view);
      if (more) std::cerr << "cairn: more views follow: --after '" << page.back().key << "'\n";
      if (page.empty() && args->after.empty())
        std::cerr << "cairn: consumer group " << args->group << " has no views in cairn.projections (only "
                  << "state-stored and event-sourced projectors keep theirs there)\n";
    });
  }
}

}  // namespace cairn::cli
