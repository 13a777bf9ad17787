// The message on an `append`, `handle` or `dispatch` command line, and where its JSON comes from
// (the argument, stdin or a file), all checked before the database is touched.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <cairn/errors.hpp>
#include <cairn/validation.hpp>
#include "tools/cli/cli.hpp"

namespace cairn::cli {
namespace {

std::string too_big(const std::string& what, const std::string& size, size_t limit) {
  return what + " is " + size + " bytes; the limit is " + std::to_string(limit) + " (1 MiB for payload and metadata)";
}

// Up to limit + 1 bytes of `fd`: enough to tell that it is too long without reading all of it.
std::string read_bounded(int fd, const std::string& what, size_t limit) {
  std::string text;
  char buffer[65536];
  while (text.size() <= limit) {
    ssize_t n = ::read(fd, buffer, std::min(sizeof buffer, limit + 1 - text.size()));
    if (n == 0) return text;
    if (n < 0) {
      if (errno == EINTR) continue;
      throw BadInput("cannot read " + what + ": " + std::strerror(errno));
    }
    text.append(buffer, static_cast<size_t>(n));
  }
  throw BadInput(too_big(what, "more than " + std::to_string(limit), limit));
}

}  // namespace

std::string json_argument(const std::string& argument, const std::string& what, size_t limit) {
  if (argument == "-") {
    static bool read_once = false;
    if (read_once) throw BadInput(what + ": stdin was already read for another argument");
    read_once = true;
    return read_bounded(STDIN_FILENO, what + " from stdin", limit);
  }
  if (argument.empty() || argument.front() != '@') {
    if (argument.size() > limit) throw BadInput(too_big(what, std::to_string(argument.size()), limit));
    return argument;
  }
  std::string path = argument.substr(1);
  std::string source = what + " from " + printable(argument, 200);
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw BadInput("cannot open " + source + ": " + std::strerror(errno));
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  struct stat info {};
  if (::fstat(fd, &info) == 0) {
    if (S_ISDIR(info.st_mode)) throw BadInput("cannot read " + source + ": it is a directory");
    if (S_ISREG(info.st_mode) && static_cast<uint64_t>(info.st_size) > limit)
      throw BadInput(too_big(source, std::to_string(info.st_size), limit));
  }
  return read_bounded(fd, source, limit);
}

void add_message_arguments(CLI::App* cmd, MessageArgs& args, const std::string& kind, bool metadata) {
  const std::string json_help = ": a JSON object, or - to read it from stdin, or @FILE (at most 1 MiB)";
  cmd->add_option("stream", args.stream, "Stream id, e.g. cart-42 (at most 200 bytes of UTF-8)")->required();
  cmd->add_option("type", args.type, kind + " type, e.g. " + (kind == "Command" ? "carts.add_item" : "carts.item_added"))
      ->required();
  cmd->add_option("json", args.payload, "Payload" + json_help)->required();
  if (metadata)
    cmd->add_option("--metadata", args.metadata, "Metadata" + json_help + " (Cairn's own keys are refused)");
  cmd->add_option("--correlation-id", args.correlation_id,
                  "Start the trace with this id (at most 200 bytes of UTF-8) instead of the message's own id");
}

Message message_from(const MessageArgs& args) {
  Limits limits;
  validate_stream_id(args.stream, limits);
  validate_type(args.type, limits);
  if (!args.correlation_id.empty()) validate_trace_id(args.correlation_id, "--correlation-id", limits);
  auto json = [&](const std::string& argument, const std::string& what) {
    return parse_json(json_argument(argument, what, limits.max_payload_bytes), what, limits);
  };
  auto payload = json(args.payload, "the payload");  // first: stdin goes to the payload when both ask
  auto metadata = args.metadata.empty() ? Json::object() : json(args.metadata, "--metadata");
  auto message = make_message(args.stream, args.type, std::move(payload), std::move(metadata));
  if (!message.metadata.contains("producer")) message.metadata["producer"] = "cairn-cli";
  // As the store will see it: traced, then every rule of validate_message.
  Message traced = message;
  start_trace(traced, Trace{args.correlation_id}, limits);
  validate_message(traced, limits);
  return message;
}

}  // namespace cairn::cli
