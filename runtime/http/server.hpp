// A small HTTP server for Cairn's endpoint (/metrics, /healthz, /readyz, later the console), on
// cpp-httplib. Its headers stay in server.cpp: nothing here (or in a public header) brings them in.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <cairn/message.hpp>

namespace cairn::http {

struct Request {
  std::string method;
  std::string path;
  std::vector<std::string> matches;           // the route pattern's groups: matches[0] is the whole path
  std::multimap<std::string, std::string> query;  // decoded parameters
  std::multimap<std::string, std::string> headers;  // as sent (names compared without case by header())
  std::string body;
  std::string remote_address;

  // The first value of a query parameter or header, or `fallback`.
  std::string parameter(const std::string& name, const std::string& fallback = "") const;
  std::string header(const std::string& name, const std::string& fallback = "") const;
};

// Writes a chunk of a streaming response; false once the client is gone.
using ChunkWriter = std::function<bool(std::string_view chunk)>;

struct Response {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  // When set, the body is streamed instead (chunked): called with a writer until it returns false
  // or the client goes away. For server-sent events ("text/event-stream").
  std::function<bool(const ChunkWriter& write)> stream;

  static Response text(int status, std::string body);
  static Response json(const Json& body, int status = 200);
};

using Handler = std::function<Response(const Request&)>;

// "HOST:PORT" ("127.0.0.1:9464", "[::1]:9464", "0.0.0.0:9464"); a bare "PORT" or ":PORT" listens on
// 127.0.0.1. Port 0 picks a free one. Throws BadInput naming what is wrong.
std::pair<std::string, int> parse_address(std::string_view address);

struct ServerOptions {
  // Requests handled at once. A streaming response holds one thread while it streams.
  size_t threads = 4;
  std::chrono::seconds read_timeout{5};
  std::chrono::seconds write_timeout{5};
};

class Server {
 public:
  explicit Server(ServerOptions options = {});
  ~Server();  // stop()
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Routes, before start(). A pattern is a regular expression matched against the whole path
  // ("/metrics", "/api/streams/(.+)"); its groups are Request::matches. A handler's exception is
  // answered with 500 and its message.
  Server& get(const std::string& pattern, Handler handler);
  Server& post(const std::string& pattern, Handler handler);

  // Listens on `address` (see parse_address) and serves on threads of its own; returns the address
  // bound, with the port picked when 0 was asked. Throws BadInput for a malformed address and
  // StoreError when it cannot listen there (e.g. the port is taken).
  std::string start(const std::string& address);
  // Stops listening and waits for the requests in flight. Idempotent.
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace cairn::http
