// The service's HTTP routes, each a thin translation between a request and one Runtime call.
#include "service.hpp"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <exception>
#include <optional>
#include <stdexcept>

#include "item.hpp"
#include "stock_levels.hpp"

namespace inventory {
namespace {

// How long a read waits for a projector to reach the caller's write before answering 504.
constexpr std::chrono::seconds read_your_writes_timeout{5};

void reply(httplib::Response& response, int status, const cairn::Json& body) {
  response.status = status;
  response.set_content(body.dump(), "application/json");
}

void reply_error(httplib::Response& response, int status, const std::string& error) {
  reply(response, status, {{"error", error}});
}

// A command's outcome as an HTTP status: the caller's to fix (4xx), or worth retrying later (503).
int http_status(cairn::HandleResult::Status status) {
  using Status = cairn::HandleResult::Status;
  switch (status) {
    case Status::ok: return 200;
    case Status::invalid: return 400;
    case Status::conflict: return 409;
    case Status::rejected: return 422;
    case Status::overloaded:
    case Status::unavailable:
    case Status::lease_lost: return 503;
    case Status::failed: return 500;
  }
  return 500;
}

// What the Runtime calls throw: BadInput names what is wrong with the request (a stream no actor
// owns, malformed JSON, a bad X-Request-Id), Unavailable a database that may come back.
void reply_exception(const httplib::Request&, httplib::Response& response, std::exception_ptr error) {
  try {
    std::rethrow_exception(error);
  } catch (const cairn::BadInput& e) {
    reply_error(response, 400, e.what());
  } catch (const cairn::Unavailable& e) {
    reply_error(response, 503, e.what());
  } catch (const std::exception& e) {
    reply_error(response, 500, e.what());
  } catch (...) {
    reply_error(response, 500, "unexpected error");
  }
}

// The seq of a query string: a decimal integer, 0 or more.
std::optional<int64_t> parse_seq(const std::string& text) {
  int64_t seq = 0;
  const char* end = text.data() + text.size();
  auto [stop, error] = std::from_chars(text.data(), end, seq);
  if (error != std::errc() || stop != end || seq < 0) return std::nullopt;
  return seq;
}

}  // namespace

Service::Service(cairn::Config config) : limits_(config.limits), runtime_(std::move(config)) {
  runtime_.add(item_actor());
  runtime_.add(stock_levels());
  runtime_.start_consumers();  // the projectors follow the log in this process

  server_.set_payload_max_length(limits_.max_payload_bytes);  // a larger body gets 413, unread
  server_.set_exception_handler(reply_exception);
  server_.Post(R"(/streams/([^/]+)/commands/([^/]+))",
               [this](const httplib::Request& rq, httplib::Response& rs) { post_command(rq, rs); });
  server_.Get(R"(/streams/([^/]+))", [this](const httplib::Request& rq, httplib::Response& rs) { get_state(rq, rs); });
  server_.Get(R"(/projections/([^/]+)/([^/]+))",
              [this](const httplib::Request& rq, httplib::Response& rs) { get_projection(rq, rs); });
}

Service::~Service() { stop(); }

int Service::start(const std::string& host, int port) {
  int bound = port == 0 ? server_.bind_to_any_port(host) : (server_.bind_to_port(host, port) ? port : -1);
  if (bound < 0) throw std::runtime_error("cannot listen on " + host + ":" + std::to_string(port));
  serving_ = std::thread([this] {
    server_.listen_after_bind();
    accept_loop_ended_ = true;
  });
  // httplib 0.11 ignores stop() until its accept loop runs: wait for the loop, so that a stop()
  // right after start() (a signal at start-up) is not lost.
  while (!server_.is_running() && !accept_loop_ended_) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  return bound;
}

void Service::stop() {
  server_.stop();  // requests in flight are answered first
  if (serving_.joinable()) serving_.join();
  runtime_.shutdown();
}

void Service::post_command(const httplib::Request& request, httplib::Response& response) {
  const std::string stream = request.matches[1], type = request.matches[2];
  auto payload = cairn::parse_json(request.body, "the payload", limits_);
  // The caller's request id, when it sends one, names the command's trace in the log (`cairn trace`).
  cairn::Trace trace{request.get_header_value("X-Request-Id")};
  auto result = runtime_.handle(stream, cairn::make_message(stream, type, std::move(payload)), trace);
  if (result.ok()) return reply(response, 200, {{"seq", result.seq}, {"events", result.events}});
  // A rejection's code is what clients branch on; its text is for people.
  if (result.status == cairn::HandleResult::Status::rejected)
    return reply(response, 422, {{"code", result.rejection_code}, {"error", result.error}});
  reply_error(response, http_status(result.status), result.error);
}

void Service::get_state(const httplib::Request& request, httplib::Response& response) {
  reply(response, 200, runtime_.state_json(request.matches[1]));
}

void Service::get_projection(const httplib::Request& request, httplib::Response& response) {
  const std::string group = request.matches[1], key = request.matches[2];
  auto groups = runtime_.consumer_group_names();
  if (std::find(groups.begin(), groups.end(), group) == groups.end())
    return reply_error(response, 404, "no projection named '" + group + "'");
  if (request.has_param("stream") || request.has_param("seq")) {
    auto stream = request.get_param_value("stream");
    auto seq = parse_seq(request.get_param_value("seq"));
    if (stream.empty() || !seq)
      return reply_error(response, 400,
                         "read your writes with ?stream=S&seq=N: the stream you wrote and the seq its POST returned");
    if (!runtime_.wait_for(group, stream, *seq, read_your_writes_timeout))
      return reply_error(response, 504,
                         group + " has not reached seq " + std::to_string(*seq) + " of " + stream + " yet");
  }
  auto view = runtime_.projection<cairn::Json>(group, key);  // as stored, whatever the projector's view type
  if (!view) return reply_error(response, 404, "no view of '" + key + "' in " + group);
  reply(response, 200, *view);
}

}  // namespace inventory
