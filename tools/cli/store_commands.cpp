// `cairn append | read | feed | trace | streams`: the event store from the shell.
#include <cstdint>
#include <iomanip>
#include <iostream>

#include <cairn/errors.hpp>
#include <cairn/validation.hpp>
#include "runtime/operations.hpp"
#include "tools/cli/cli.hpp"

namespace cairn::cli {
namespace {

void print_table_header() {
  std::cout << std::left << std::setw(6) << "SEQ" << std::setw(10) << "POSITION" << std::setw(29) << "CREATED_AT"
            << std::setw(32) << "TYPE"
            << "PAYLOAD\n";
}

void print_table_row(const Message& m) {
  std::cout << std::left << std::setw(6) << m.seq << std::setw(10) << m.position << std::setw(29) << format_time(m.created_at)
            << std::setw(32) << m.type << m.payload.dump() << "\n";
}

// Prints each message under the one that caused it.
void print_trail(const operations::Trail& trail) {
  operations::walk(trail, [](const Message& m, size_t depth) {
    std::cout << std::string(depth * 2, ' ') << m.type << "  " << m.stream_id << "#" << m.seq << "  " << m.id << "  "
              << m.payload.dump() << "\n";
  });
}

}  // namespace

void add_store_commands(CLI::App& app, Context& context) {
  {
    struct Args {
      MessageArgs message;
      int64_t expected = 0;
    };
    auto args = std::make_shared<Args>();
    auto* cmd = app.add_subcommand("append", "Append one message to a stream; prints it as stored (JSON)");
    add_message_arguments(cmd, args->message, "Message", true);
    auto* expected = cmd->add_option("--expected-seq", args->expected,
                                     "Fail with exit 3 unless the stream is at this seq (0: new); default: any")
                         ->check(tools::decimal(0, INT64_MAX));
    cmd->callback([&context, args, expected] {
      auto message = message_from(args->message);
      start_trace(message, Trace{args->message.correlation_id});
      auto seq = expected->count() ? ExpectedSeq::exactly(args->expected) : ExpectedSeq::any();
      for (const auto& m : context.open_store()->append(args->message.stream, seq, {std::move(message)}))
        std::cout << Json(m).dump() << "\n";
    });
  }
  {
    struct Args {
      std::string stream;
      int64_t after = 0, upto = 0;
      bool json = false;
    };
    auto args = std::make_shared<Args>();
    auto* cmd = app.add_subcommand("read", "Print a stream's messages in seq order");
    cmd->add_option("stream", args->stream, "Stream id")->required();
    cmd->add_option("--after", args->after, "Only messages after this seq")->check(tools::decimal(0, INT64_MAX));
    auto* upto = cmd->add_option("--upto", args->upto, "Only messages up to this seq (inclusive)")
                     ->check(tools::decimal(0, INT64_MAX));
    cmd->add_flag("--json", args->json, "One JSON object per line");
    cmd->callback([&context, args, upto] {
      validate_stream_id(args->stream);
      StreamRange range{args->after, upto->count() ? std::optional<int64_t>(args->upto) : std::nullopt, {}};
      auto store = context.open_store();
      if (!args->json) print_table_header();
      // Printed a page at a time as it is read: a long stream never sits in memory whole.
      for_each_message(*store, args->stream, range, [&](const Message& m) {
        if (args->json)
          std::cout << Json(m).dump() << "\n";
        else
          print_table_row(m);
      });
    });
  }
  {
    struct Args {
      std::string after = "0:0";
      size_t limit = 100;
      std::vector<std::string> types;
    };
    auto args = std::make_shared<Args>();
    auto* cmd = app.add_subcommand("feed", "Print the global feed as JSON lines, each with its cursor");
    cmd->add_option("--after", args->after, "Continue after this cursor (from a previous line)");
    cmd->add_option("--limit", args->limit, "At most this many messages (default 100)")->check(tools::decimal(1, 100000));
    cmd->add_option("--type", args->types, "Only these message types (repeatable)");
    cmd->callback([&context, args] {
      auto cursor = FeedCursor::parse(args->after);
      for (const auto& t : args->types) validate_type(t);
      for (const auto& entry : context.open_store()->read_feed(cursor, args->limit, {args->types, 1, {}})) {
        Json line = entry.message;
        line["cursor"] = entry.cursor.str();
        std::cout << line.dump() << "\n";
      }
    });
  }
  {
    struct Args {
      std::string id;
      size_t limit = 10000;
    };
    auto args = std::make_shared<Args>();
    auto* cmd = app.add_subcommand("trace", "Print a causal trail (by message id or correlation id), indented by cause");
    cmd->add_option("id", args->id, "A message id or a correlation id")->required();
    // The tree needs the whole trail in memory: a bound keeps a runaway one from exhausting it.
    cmd->add_option("--limit", args->limit, "At most this many messages, the first in log order (default 10000)")
        ->check(tools::decimal(1, 1000000));
    cmd->callback([&context, args] {
      validate_trace_id(args->id, "id");
      auto trail = operations::read_trail(*context.open_store(), args->id, args->limit);
      print_trail(trail);
      if (trail.cut)
        std::cerr << "the trail has more than " << args->limit << " messages: printed the first " << args->limit
                  << " (--limit)\n";
    });
  }
  {
    struct Args {
      size_t limit = 50;
      std::string prefix;
      bool json = false;
    };
    auto args = std::make_shared<Args>();
    auto* cmd = app.add_subcommand("streams", "List the most recently written streams with their head seq");
    cmd->add_option("--limit", args->limit, "At most this many streams (default 50)")->check(tools::decimal(1, 100000));
    cmd->add_option("--prefix", args->prefix, "Only streams whose id starts with this (e.g. cart-)");
    cmd->add_flag("--json", args->json, "One JSON object per line");
    cmd->callback([&context, args] {
      if (!args->prefix.empty()) validate_text(args->prefix, "--prefix", Limits{}.max_stream_id_bytes);
      for (const auto& s : context.open_store()->list_streams(args->limit, args->prefix)) {
        if (args->json)
          std::cout << Json{{"stream_id", s.stream_id}, {"head_seq", s.head_seq},
                            {"updated_at", format_time(s.updated_at)}}
                           .dump()
                    << "\n";
        else
          std::cout << std::left << std::setw(8) << s.head_seq << std::setw(29) << format_time(s.updated_at)
                    << s.stream_id << "\n";
      }
    });
  }
}

}  // namespace cairn::cli
