#include "runtime/console/console.hpp"

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <set>

#include <cairn/errors.hpp>
#include <cairn/runtime.hpp>
#include <cairn/validation.hpp>
#include "runtime/operations.hpp"

namespace cairn::console {
namespace {

constexpr size_t default_page = 50;
constexpr size_t default_trace_limit = 2000;
constexpr size_t max_trace_limit = 10000;
constexpr size_t max_streams = 1000;

Json error_body(const std::string& message) { return {{"error", message}}; }

// A decimal integer parameter in [min, max], or `fallback` when absent.
int64_t number_param(const Request& request, const std::string& name, int64_t fallback, int64_t min, int64_t max) {
  auto it = request.params.find(name);
  if (it == request.params.end() || it->second.empty()) return fallback;
  const auto& text = it->second;
  int64_t value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || value < min || value > max)
    throw BadInput(name + " must be a decimal integer in [" + std::to_string(min) + ", " + std::to_string(max) +
                   "], got '" + text.substr(0, 40) + "'");
  return value;
}

std::string text_param(const Request& request, const std::string& name, bool required) {
  auto it = request.params.find(name);
  if (it == request.params.end() || it->second.empty()) {
    if (required) throw BadInput("the parameter '" + name + "' is required");
    return "";
  }
  return it->second;
}

// The same length and bytes, in a time that does not depend on where they differ.
bool same_secret(std::string_view given, std::string_view expected) {
  unsigned char diff = given.size() == expected.size() ? 0 : 1;
  for (size_t i = 0; i < given.size(); ++i)
    diff |= static_cast<unsigned char>(given[i] ^ expected[i % std::max<size_t>(expected.size(), 1)]);
  return diff == 0;
}

std::string body_string(const Json& body, const std::string& field, bool required) {
  auto it = body.find(field);
  if (it == body.end() || it->is_null()) {
    if (required) throw BadInput("the request's JSON needs \"" + field + "\"");
    return "";
  }
  if (!it->is_string()) throw BadInput("\"" + field + "\" must be a string");
  return it->get<std::string>();
}

}  // namespace

Reply Reply::json(int status, const Json& body) {
  return {status, "application/json", body.dump(-1, ' ', false, Json::error_handler_t::replace), {}};
}

std::string token_from_environment() {
  const char* token = std::getenv("CAIRN_CONSOLE_TOKEN");
  return token ? token : "";
}

Console::Console(Runtime& runtime, Options options)
    : Console([&runtime]() -> Runtime& { return runtime; }, std::move(options)) {}

Console::Console(std::function<Runtime&()> runtime, Options options)
    : runtime_(std::move(runtime)), options_(std::move(options)) {}

Console::~Console() { stop(); }

void Console::stop() {
  std::lock_guard lock(mutex_);
  stopping_ = true;
  changed_.notify_all();
}

std::optional<Reply> Console::handle(const Request& request) {
  if (request.method == "GET") {
    for (const auto& asset : embedded_assets())
      if (asset.path == request.path)
        return Reply{200, std::string(asset.content_type), std::string(asset.body), {{"Cache-Control", "no-cache"}}};
    if (request.path == "/index.html") return handle({request.method, "/", {}, {}, {}});
  }
  if (request.path.rfind("/api/", 0) != 0) return std::nullopt;
  try {
    if (request.path.rfind("/api/actions/", 0) == 0) {
      if (request.method != "POST")
        return Reply{405, "application/json", error_body("actions are POST requests").dump(), {{"Allow", "POST"}}};
      return action(request);
    }
    if (request.method != "GET")
      return Reply{405, "application/json", error_body(request.path + " answers GET only").dump(), {{"Allow", "GET"}}};
    return api(request);
  } catch (const BadInput& e) {
    return Reply::json(400, error_body(e.what()));
  } catch (const Unavailable& e) {
    return Reply::json(503, error_body(std::string("the database is unavailable: ") + e.what()));
  } catch (const std::exception& e) {
    return Reply::json(500, error_body(e.what()));
  }
}

Reply Console::api(const Request& request) {
  auto& runtime = runtime_();
  auto& store = runtime.store();
  const auto& path = request.path;
  if (path == "/api/status") return Reply::json(200, status());
  if (path == "/api/streams") {
    auto prefix = text_param(request, "prefix", false);
    if (!prefix.empty()) validate_text(prefix, "prefix", store.limits().max_stream_id_bytes);
    auto limit = number_param(request, "limit", default_page, 1, max_streams);
    Json streams = Json::array();
    for (const auto& s : store.list_streams(static_cast<size_t>(limit), prefix)) {
      const auto* actor = runtime.application().actor_for_stream(s.stream_id);
      streams.push_back({{"stream_id", s.stream_id},
                         {"head_seq", s.head_seq},
                         {"updated_at", format_time(s.updated_at)},
                         {"actor", actor ? Json(actor->name) : Json()}});
    }
    return Reply::json(200, {{"prefix", prefix}, {"streams", streams}});
  }
  if (path == "/api/stream") {
    auto stream = text_param(request, "id", true);
    auto after = number_param(request, "after", 0, 0, INT64_MAX);
    auto limit = number_param(request, "limit", default_page, 1, static_cast<int64_t>(stream_page));
    auto page = operations::stream_page(store, stream, after, static_cast<size_t>(limit));
    const auto* actor = runtime.application().actor_for_stream(stream);
    page["actor"] = actor ? Json(actor->name) : Json();
    return Reply::json(200, page);
  }
  if (path == "/api/state") {
    auto stream = text_param(request, "stream", true);
    validate_stream_id(stream, store.limits());
    const auto* actor = runtime.application().actor_for_stream(stream);
    if (!actor)
      return Reply::json(404, error_body("no loaded module has an actor for '" + stream +
                                         "': a state is computed by the actor's evolve functions, so start the "
                                         "console with --app MODULE to see it"));
    auto head = store.head_seq(stream);
    auto seq = number_param(request, "seq", head, 0, INT64_MAX);
    seq = std::min(seq, head);
    auto state = runtime.state_json(stream, {0, seq, std::nullopt});
    return Reply::json(200, {{"stream_id", stream}, {"actor", actor->name}, {"seq", seq}, {"head_seq", head}, {"state", state}});
  }
  if (path == "/api/trace") {
    auto id = text_param(request, "id", true);
    auto limit = number_param(request, "limit", default_trace_limit, 1, max_trace_limit);
    return Reply::json(200, operations::trail_json(operations::read_trail(store, id, static_cast<size_t>(limit))));
  }
  return Reply::json(404, error_body("no such route: " + path));
}

std::optional<Reply> Console::refuse(const Request& request) const {
  if (read_only())
    return Reply::json(403, error_body("the console is read-only: actions are enabled by starting it with "
                                       "CAIRN_CONSOLE_TOKEN set"));
  static constexpr std::string_view bearer = "Bearer ";
  const auto& header = request.authorization;
  if (header.empty())
    return Reply{401, "application/json",
                 error_body("this action needs the console's token (Authorization: Bearer TOKEN)").dump(),
                 {{"WWW-Authenticate", "Bearer"}}};
  if (header.size() <= bearer.size() || header.compare(0, bearer.size(), bearer) != 0 ||
      !same_secret(std::string_view(header).substr(bearer.size()), options_.token))
    return Reply::json(403, error_body("refused: the token is wrong"));
  return std::nullopt;
}

Reply Console::action(const Request& request) {
  if (auto refused = refuse(request)) return *refused;
  auto name = request.path.substr(std::string_view("/api/actions/").size());
  Json body;
  try {
    body = Json::parse(request.body.empty() ? "{}" : request.body);
  } catch (const Json::exception&) {
    throw BadInput("the request's body must be a JSON object");
  }
  if (!body.is_object()) throw BadInput("the request's body must be a JSON object");
  auto group = body_string(body, "group", true);
  auto stream = body_string(body, "stream", name == "skip");
  auto& runtime = runtime_();
  auto& store = runtime.store();
  std::string done;
  if (name == "resume" && !stream.empty()) {
    operations::resume_stream(store, group, stream, false);
    done = "resumed " + stream + " in " + group + " from its failed event";
  } else if (name == "skip") {
    operations::resume_stream(store, group, stream, true);
    done = "skipped the failed event of " + stream + " in " + group;
  } else if (name == "resume") {
    operations::resume_group(store, group);
    done = "resumed " + group;
  } else if (name == "stop") {
    if (!stream.empty()) throw BadInput("stop applies to a whole group: leave \"stream\" out");
    operations::stop_group(store, group);
    done = "stopped " + group;
  } else if (name == "reset") {
    if (!stream.empty()) throw BadInput("reset applies to a whole group: leave \"stream\" out");
    operations::require_group(store, group);
    runtime.reset_group(group);
    done = "reset " + group + ": its read model was emptied and its history is being re-delivered";
  } else {
    return Reply::json(404, error_body("no such action: " + name + " (resume, skip, stop, reset)"));
  }
  {
    std::lock_guard lock(mutex_);
    status_.reset();  // the next status shows it
  }
  changed_.notify_all();
  return Reply::json(200, {{"ok", true}, {"message", done}});
}

Json Console::status() {
  std::lock_guard computing(status_mutex_);
  {
    std::lock_guard lock(mutex_);
    if (status_ && std::chrono::steady_clock::now() - status_at_ < options_.status_interval) return *status_;
  }
  auto fresh = compute_status();
  std::lock_guard lock(mutex_);
  status_ = fresh;
  status_at_ = std::chrono::steady_clock::now();
  return fresh;
}

Json Console::compute_status() {
  auto& runtime = runtime_();
  auto& store = runtime.store();
  Json groups = Json::array(), failed = Json::array(), undeliverable = Json::array(), actors = Json::array();
  auto defined_list = runtime.consumer_group_names();
  std::set<std::string> defined(defined_list.begin(), defined_list.end());
  for (const auto& group : store.list_groups()) {
    auto status = operations::group_status(store, group);
    status["defined"] = defined.count(group.group_id) > 0;
    for (auto f : status["failed_streams"]) {
      f["group"] = group.group_id;
      failed.push_back(std::move(f));
    }
    groups.push_back(std::move(status));
  }
  for (const auto& u : store.undeliverable_messages(100)) undeliverable.push_back(operations::undeliverable_json(u));
  for (const auto& actor : runtime.application().actors())
    actors.push_back({{"name", actor.name}, {"stream_prefix", actor.stream_prefix}});
  return {{"read_only", read_only()},
          {"actors", actors},
          {"feed", operations::feed_json(store.feed_health(), options_.warn_horizon_seconds)},
          {"scheduled", operations::schedule_json(store.schedule_summary())},
          {"groups", groups},
          {"failed_streams", failed},
          {"undeliverable", undeliverable}};
}

std::unique_ptr<Console::EventStream> Console::open_event_stream() {
  std::lock_guard lock(mutex_);
  if (stopping_ || event_streams_ >= options_.max_event_streams) return nullptr;
  ++event_streams_;
  return std::make_unique<EventStream>(*this);
}

Console::EventStream::~EventStream() {
  std::lock_guard lock(console_.mutex_);
  --console_.event_streams_;
}

void Console::EventStream::run(const std::function<bool(std::string_view)>& write) {
  using clock = std::chrono::steady_clock;
  auto& c = console_;
  const auto end = clock::now() + c.options_.event_stream_lifetime;
  const auto keepalive = c.options_.keepalive_interval;
  std::string last;
  auto last_write = clock::now();
  if (!write("retry: 2000\n\n")) return;
  for (;;) {
    std::string frame;
    try {
      auto text = c.status().dump(-1, ' ', false, Json::error_handler_t::replace);
      if (text != last) frame = "event: status\ndata: " + text + "\n\n";
      last = std::move(text);
    } catch (const std::exception& e) {
      last.clear();
      frame = "event: failure\ndata: " + error_body(e.what()).dump(-1, ' ', false, Json::error_handler_t::replace) + "\n\n";
    }
    if (frame.empty() && clock::now() - last_write >= keepalive) frame = ": still here\n\n";
    if (!frame.empty()) {
      if (!write(frame)) return;
      last_write = clock::now();
    }
    std::unique_lock lock(c.mutex_);
    if (c.stopping_ || clock::now() >= end) return;
    c.changed_.wait_for(lock, c.options_.status_interval);
    if (c.stopping_) return;
  }
}

}  // namespace cairn::console
