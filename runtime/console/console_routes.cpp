#include "runtime/console/console_routes.hpp"

#include <utility>

namespace cairn::console {
namespace {

const std::pair<const char*, const char*> guard_headers[] = {
    {"Content-Security-Policy",
     "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
     "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"},
    {"X-Content-Type-Options", "nosniff"},
    {"Referrer-Policy", "no-referrer"},
    {"X-Frame-Options", "DENY"},
};

Request to_console(const http::Request& in) {
  Request out{in.method, in.path, {}, in.body, in.header("Authorization")};
  for (const auto& [name, value] : in.query) out.params.emplace(name, value);  // the first of each name
  return out;
}

http::Response to_http(Reply reply) {
  http::Response out;
  out.status = reply.status;
  out.content_type = std::move(reply.content_type);
  out.body = std::move(reply.body);
  out.headers = std::move(reply.headers);
  for (const auto& [name, value] : guard_headers) out.headers.emplace_back(name, value);
  if (out.content_type == "application/json") out.headers.emplace_back("Cache-Control", "no-store");
  return out;
}

constexpr size_t server_threads = 8;
constexpr size_t event_streams = 4;  // the other threads answer everything else meanwhile

}  // namespace

http::ServerOptions server_options() {
  http::ServerOptions options;
  options.threads = server_threads;
  return options;
}

Options options_from_environment() {
  Options options;
  options.token = token_from_environment();
  options.max_event_streams = event_streams;
  return options;
}

void add_console_routes(http::Server& server, std::shared_ptr<Console> console) {
  auto serve = [console](const http::Request& request) {
    auto reply = console->handle(to_console(request));
    if (!reply) return to_http(Reply::json(404, {{"error", "no such page: " + request.path}}));
    return to_http(std::move(*reply));
  };
  for (const auto& asset : embedded_assets()) server.get(std::string(asset.path), serve);
  server.get("/index\\.html", serve);
  server.get("/api/events", [console](const http::Request&) {
    std::shared_ptr<Console::EventStream> stream = console->open_event_stream();
    if (!stream)
      return to_http(Reply::json(503, {{"error", "too many event streams are open: poll /api/status instead"}}));
    http::Response out;
    out.content_type = "text/event-stream";
    out.headers = {{"Cache-Control", "no-store"}, {"X-Accel-Buffering", "no"}};
    // The stream holds the console, so a request in flight never outlives it.
    out.stream = [console, stream](const http::ChunkWriter& write) {
      stream->run(write);
      return false;
    };
    return out;
  });
  server.get("/api/.*", serve);
  server.post("/api/.*", serve);
}

}  // namespace cairn::console
