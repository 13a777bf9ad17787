#include "runtime/http/server.hpp"

#include <sys/socket.h>

#include <atomic>
#include <charconv>
#include <strings.h>
#include <thread>

#include <httplib.h>

#include <cairn/errors.hpp>
#include <cairn/validation.hpp>

namespace cairn::http {
namespace {

std::string first(const std::multimap<std::string, std::string>& values, const std::string& name,
                  const std::string& fallback, bool ignore_case) {
  for (const auto& [key, value] : values)
    if (ignore_case ? strcasecmp(key.c_str(), name.c_str()) == 0 : key == name) return value;
  return fallback;
}

}  // namespace

std::string Request::parameter(const std::string& name, const std::string& fallback) const {
  return first(query, name, fallback, false);
}

std::string Request::header(const std::string& name, const std::string& fallback) const {
  return first(headers, name, fallback, true);
}

Response Response::text(int status, std::string body) {
  Response response;
  response.status = status;
  response.body = std::move(body);
  return response;
}

Response Response::json(const Json& body, int status) {
  Response response;
  response.status = status;
  response.content_type = "application/json";
  response.body = body.dump(-1, ' ', false, Json::error_handler_t::replace);
  return response;
}

std::pair<std::string, int> parse_address(std::string_view address) {
  auto refuse = [&](const std::string& why) -> std::pair<std::string, int> {
    throw BadInput("HTTP address '" + printable(address, 100) + "': " + why +
                   " (expected HOST:PORT, e.g. 127.0.0.1:9464, or a port alone for 127.0.0.1)");
  };
  std::string host = "127.0.0.1";
  std::string_view port = address;
  if (auto colon = address.rfind(':'); colon != std::string_view::npos) {
    auto host_part = address.substr(0, colon);
    port = address.substr(colon + 1);
    if (host_part.size() >= 2 && host_part.front() == '[' && host_part.back() == ']')
      host_part = host_part.substr(1, host_part.size() - 2);  // [::1]
    else if (host_part.find(':') != std::string_view::npos)
      return refuse("an IPv6 host goes in brackets");
    if (!host_part.empty()) host = std::string(host_part);
  }
  int number = -1;
  auto parsed = std::from_chars(port.data(), port.data() + port.size(), number);
  if (port.empty() || parsed.ec != std::errc() || parsed.ptr != port.data() + port.size() || number < 0 ||
      number > 65535 || port.size() > 5)
    return refuse("the port is not a number from 0 to 65535");
  for (char c : host)
    if (static_cast<unsigned char>(c) <= ' ' || c == '/' || c == '[' || c == ']') return refuse("bad host");
  return {host, number};
}

struct Server::Impl {
  ServerOptions options;
  httplib::Server server;
  std::thread thread;
  std::atomic<bool> stopping{false};
  std::atomic<bool> listening{false};
  bool started = false;

  // A route's handler in httplib's terms: the request copied into ours, the answer back.
  httplib::Server::Handler adapt(Handler handler) {
    return [this, handler = std::move(handler)](const httplib::Request& in, httplib::Response& out) {
      Request request;
      request.method = in.method;
      request.path = in.path;
      for (const auto& match : in.matches) request.matches.push_back(match.str());
      request.query.insert(in.params.begin(), in.params.end());
      request.headers.insert(in.headers.begin(), in.headers.end());
      request.body = in.body;
      request.remote_address = in.remote_addr;
      auto response = handler(request);
      out.status = response.status;
      for (const auto& [name, value] : response.headers) out.set_header(name, value);
      if (!response.stream) {
        out.set_content(response.body, response.content_type.c_str());
        return;
      }
      out.set_chunked_content_provider(
          response.content_type, [this, stream = std::move(response.stream)](size_t, httplib::DataSink& sink) {
            ChunkWriter write = [&](std::string_view chunk) {
              return !stopping.load() && sink.is_writable() && sink.write(chunk.data(), chunk.size());
            };
            if (!stopping.load() && stream(write)) return true;
            sink.done();
            return true;
          });
    };
  }
};

Server::Server(ServerOptions options) : impl_(std::make_unique<Impl>()) {
  impl_->options = options;
  auto& server = impl_->server;
  auto threads = std::max<size_t>(options.threads, 1);
  server.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  server.set_read_timeout(options.read_timeout);
  server.set_write_timeout(options.write_timeout);
  // httplib's default sets SO_REUSEPORT, with which a second process binds the same port and
  // quietly takes half the scrapes; SO_REUSEADDR alone still allows a quick restart.
  server.set_socket_options([](int socket) {
    int yes = 1;
    setsockopt(socket, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });
  server.set_exception_handler([](const httplib::Request&, httplib::Response& out, std::exception_ptr error) {
    std::string what = "a throw that is not a std::exception";
    try {
      std::rethrow_exception(error);
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
    }
    out.status = 500;
    out.set_content("internal error: " + what + "\n", "text/plain; charset=utf-8");
  });
  server.set_error_handler([](const httplib::Request& in, httplib::Response& out) {
    if (out.body.empty())
      out.set_content(std::to_string(out.status) + ": " + printable(in.path, 200) + "\n", "text/plain; charset=utf-8");
  });
}

Server::~Server() { stop(); }

Server& Server::get(const std::string& pattern, Handler handler) {
  impl_->server.Get(pattern, impl_->adapt(std::move(handler)));
  return *this;
}

Server& Server::post(const std::string& pattern, Handler handler) {
  impl_->server.Post(pattern, impl_->adapt(std::move(handler)));
  return *this;
}

std::string Server::start(const std::string& address) {
  if (impl_->started) throw BadInput("the HTTP server is already started");
  auto [host, port] = parse_address(address);
  auto& server = impl_->server;
  if (port == 0) {
    port = server.bind_to_any_port(host);
    if (port < 0) throw StoreError("cannot listen on " + host + " (any port)");
  } else if (!server.bind_to_port(host, port)) {
    throw StoreError("cannot listen on " + printable(address, 100) + " (taken, or not an address of this host)");
  }
  impl_->started = true;
  impl_->listening = true;
  impl_->thread = std::thread([impl = impl_.get()] {
    impl->server.listen_after_bind();
    impl->listening = false;
  });
  // httplib's stop() does nothing until the server runs: a stop() right after start() would hang.
  while (impl_->listening && !server.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  return (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

void Server::stop() {
  if (!impl_->started) return;
  impl_->stopping = true;  // streaming responses end at their next chunk
  impl_->server.stop();
  if (impl_->thread.joinable()) impl_->thread.join();
  impl_->started = false;
}

}  // namespace cairn::http
