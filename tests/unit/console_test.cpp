// The web console's API without HTTP, on the memory store: its routes, the token on actions,
// stream pages, states at a seq, the trace tree and the event streams.
#include <doctest/doctest.h>

#include <thread>

#include <cairn/projector.hpp>
#include <cairn/runtime.hpp>
#include "runtime/console/console.hpp"
#include "runtime/console/console_routes.hpp"
#include "runtime/operations.hpp"
#include "tests/support/counter_actor.hpp"
#include "tests/support/http_client.hpp"

using namespace cairn;
using console::Console;
using console::Reply;
using console::Request;

namespace {

struct CounterView {
  long total = 0;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(CounterView, total)

// A runtime with the counter actor and a projector, and a console on it.
struct Fixture {
  explicit Fixture(std::string token = "s3cret") {
    counter::install(runtime.app());
    auto view = state_projector<CounterView>("counter.views");
    view->on<counter::Incremented>([](const counter::Incremented&, const Message& m) { return m.stream_id; },
                                   [](CounterView& v, const counter::Incremented& e, const Message&) { v.total += e.by; });
    runtime.add(view);
    console::Options options;
    options.token = std::move(token);
    options.status_interval = std::chrono::milliseconds(0);  // every status fresh
    console = std::make_unique<Console>(runtime, options);
  }
  Reply get(const std::string& path, std::map<std::string, std::string> params = {}) {
    auto reply = console->handle({"GET", path, std::move(params), "", ""});
    REQUIRE(reply);
    return *reply;
  }
  Reply post(const std::string& path, const Json& body, const std::string& authorization) {
    auto reply = console->handle({"POST", path, {}, body.dump(), authorization});
    REQUIRE(reply);
    return *reply;
  }
  // A stream stopped in a group, as a runner records it after the last attempt.
  void stop(const std::string& group, const std::string& stream) {
    runtime.store().ensure_group(group, 1, StartFrom::beginning());
    runtime.store().stop_stream(group, {stream, 0, true, 1, "m-1", "poison increment on " + stream, 5}, std::nullopt);
  }
  bool stopped(const std::string& group, const std::string& stream) {
    for (const auto& f : runtime.store().failed_streams(group))
      if (f.stream_id == stream && f.stopped) return true;
    return false;
  }

  Runtime runtime;
  std::unique_ptr<Console> console;
};

Json body(const Reply& reply) { return Json::parse(reply.body); }

Message traced(const std::string& stream, const std::string& type, const std::string& correlation,
               const std::string& cause) {
  auto m = make_message(stream, type, Json::object(), Json{{"correlation_id", correlation}});
  if (!cause.empty()) m.metadata["causation_id"] = cause;
  return m;
}

}  // namespace

TEST_CASE("the console serves its page and assets from the binary, and only its own paths") {
  Fixture f;
  auto page = f.get("/");
  CHECK(page.status == 200);
  CHECK(page.content_type.rfind("text/html", 0) == 0);
  CHECK(page.body.find("/console.js") != std::string::npos);
  CHECK(page.body.find("http") == std::string::npos);  // nothing from elsewhere (no CDN)
  CHECK(f.get("/console.js").content_type.rfind("text/javascript", 0) == 0);
  CHECK(f.get("/console.css").content_type.rfind("text/css", 0) == 0);
  CHECK(f.get("/index.html").body == page.body);
  CHECK_FALSE(f.console->handle({"GET", "/metrics", {}, "", ""}));
  CHECK(f.get("/api/nothing").status == 404);
  CHECK(f.console->handle({"POST", "/api/status", {}, "", ""})->status == 405);
  CHECK(f.get("/api/actions/resume").status == 405);
}

TEST_CASE("the status shows groups with their state, lag, slices and owners, and the failed streams") {
  Fixture f;
  f.stop("counter.views", "counter-7");
  auto status = body(f.get("/api/status"));
  CHECK(status["read_only"] == false);
  REQUIRE(status["groups"].size() == 1);
  auto group = status["groups"][0];
  CHECK(group["group"] == "counter.views");
  CHECK(group["state"] == "active");
  CHECK(group["defined"] == true);
  CHECK(group["slices"].size() == 1);
  CHECK(group["slices"][0]["owner"] == "");
  REQUIRE(status["failed_streams"].size() == 1);
  CHECK(status["failed_streams"][0]["group"] == "counter.views");
  CHECK(status["failed_streams"][0]["stream_id"] == "counter-7");
  CHECK(status["failed_streams"][0]["stopped"] == true);
  CHECK(status["failed_streams"][0]["error"] == "poison increment on counter-7");
  CHECK(status["actors"][0]["name"] == "counter");
}

TEST_CASE("actions need the token: read-only without one, refused without it or with a wrong one") {
  SUBCASE("a console without a token is read-only") {
    Fixture f("");
    f.stop("counter.views", "counter-7");
    CHECK(body(f.get("/api/status"))["read_only"] == true);
    auto refused = f.post("/api/actions/resume", {{"group", "counter.views"}, {"stream", "counter-7"}}, "Bearer ");
    CHECK(refused.status == 403);
    CHECK(body(refused)["error"].get<std::string>().find("read-only") != std::string::npos);
    CHECK(f.stopped("counter.views", "counter-7"));
  }
  Fixture f;
  f.stop("counter.views", "counter-7");
  Json target{{"group", "counter.views"}, {"stream", "counter-7"}};
  auto missing = f.post("/api/actions/resume", target, "");
  CHECK(missing.status == 401);
  CHECK(body(missing)["error"].get<std::string>().find("token") != std::string::npos);
  for (const char* wrong : {"Bearer s3cre", "Bearer s3cret2", "Bearer S3CRET", "s3cret", "Basic s3cret", "Bearer"}) {
    CAPTURE(wrong);
    auto refused = f.post("/api/actions/resume", target, wrong);
    CHECK(refused.status == 403);
    CHECK(body(refused)["error"] == "refused: the token is wrong");
  }
  CHECK(f.stopped("counter.views", "counter-7"));
  auto done = f.post("/api/actions/resume", target, "Bearer s3cret");
  CHECK(done.status == 200);
  CHECK(body(done)["message"] == "resumed counter-7 in counter.views from its failed event");
  CHECK_FALSE(f.stopped("counter.views", "counter-7"));
  // Not stopped any more: the store says so, as the CLI does.
  auto again = f.post("/api/actions/resume", target, "Bearer s3cret");
  CHECK(again.status == 400);
  CHECK(body(again)["error"].get<std::string>().find("is not stopped") != std::string::npos);
}

TEST_CASE("skip, stop, resume and reset act on groups as the CLI does, and bad requests say why") {
  Fixture f;
  const std::string token = "Bearer s3cret";
  f.stop("counter.views", "counter-7");
  CHECK(f.post("/api/actions/skip", {{"group", "counter.views"}, {"stream", "counter-7"}}, token).status == 200);
  CHECK_FALSE(f.stopped("counter.views", "counter-7"));
  CHECK(f.post("/api/actions/stop", {{"group", "counter.views"}}, token).status == 200);
  CHECK_FALSE(f.runtime.store().find_group("counter.views")->active);
  CHECK(f.post("/api/actions/resume", {{"group", "counter.views"}}, token).status == 200);
  CHECK(f.runtime.store().find_group("counter.views")->active);
  auto reset = f.post("/api/actions/reset", {{"group", "counter.views"}}, token);
  CHECK(reset.status == 200);
  CHECK(body(reset)["message"].get<std::string>().find("reset counter.views") == 0);

  f.runtime.store().ensure_group("other.group", 1, StartFrom::beginning());
  auto undefined = f.post("/api/actions/reset", {{"group", "other.group"}}, token);
  CHECK(undefined.status == 400);
  CHECK(body(undefined)["error"].get<std::string>().find("--app") != std::string::npos);
  CHECK(f.post("/api/actions/resume", {{"group", "no.such"}}, token).status == 400);
  CHECK(f.post("/api/actions/skip", {{"group", "counter.views"}}, token).status == 400);  // which stream?
  CHECK(f.post("/api/actions/stop", {{"group", "bad group"}}, token).status == 400);
  CHECK(f.post("/api/actions/stop", {{"group", 7}}, token).status == 400);
  CHECK(f.post("/api/actions/launch", {{"group", "counter.views"}}, token).status == 404);
  auto garbage = f.console->handle({"POST", "/api/actions/stop", {}, "{not json", token});
  CHECK(garbage->status == 400);
  CHECK(body(*garbage)["error"] == "the request's body must be a JSON object");
}

TEST_CASE("the stream browser finds streams and pages through a stream's messages") {
  Fixture f;
  for (int i = 1; i <= 5; ++i) REQUIRE(f.runtime.handle("counter-7", counter::Increment{i}).ok());
  REQUIRE(f.runtime.handle("counter-8", counter::Increment{1}).ok());
  f.runtime.store().append("other-1", ExpectedSeq::any(), {make_message("other-1", "x.y", Json::object())});

  auto found = body(f.get("/api/streams", {{"prefix", "counter-"}}));
  REQUIRE(found["streams"].size() == 2);
  CHECK(found["streams"][0]["actor"] == "counter");
  CHECK(body(f.get("/api/streams", {{"prefix", "other"}}))["streams"][0]["actor"].is_null());
  CHECK(body(f.get("/api/streams"))["streams"].size() == 3);

  // Ten messages: each command is stored with its event.
  auto first = body(f.get("/api/stream", {{"id", "counter-7"}, {"limit", "4"}}));
  CHECK(first["head_seq"] == 10);
  CHECK(first["actor"] == "counter");
  REQUIRE(first["messages"].size() == 4);
  CHECK(first["messages"][0]["seq"] == 1);
  CHECK(first["messages"][0]["type"] == "counter.increment");
  CHECK(first["messages"][1]["payload"] == Json{{"by", 1}});
  CHECK(first["messages"][1]["metadata"].contains("correlation_id"));
  CHECK(first["next_after"] == 4);
  auto last = body(f.get("/api/stream", {{"id", "counter-7"}, {"after", "8"}, {"limit", "4"}}));
  CHECK(last["messages"].size() == 2);
  CHECK(last["next_after"].is_null());
  CHECK(f.get("/api/stream", {{"id", "counter-7"}, {"limit", "0"}}).status == 400);
  CHECK(f.get("/api/stream", {{"id", "counter-7"}, {"after", "-1"}}).status == 400);
  CHECK(f.get("/api/stream", {{"id", "counter-7"}, {"after", "1x"}}).status == 400);
  CHECK(f.get("/api/stream").status == 400);
  CHECK(f.get("/api/stream", {{"id", std::string(201, 'x')}}).status == 400);
}

TEST_CASE("the state at any seq, when a loaded module owns the stream") {
  Fixture f;
  for (int i = 1; i <= 3; ++i) REQUIRE(f.runtime.handle("counter-7", counter::Increment{i}).ok());
  auto now = body(f.get("/api/state", {{"stream", "counter-7"}}));
  CHECK(now["seq"] == 6);
  CHECK(now["state"] == Json{{"total", 6}, {"count", 3}});
  auto then = body(f.get("/api/state", {{"stream", "counter-7"}, {"seq", "4"}}));
  CHECK(then["seq"] == 4);
  CHECK(then["state"] == Json{{"total", 3}, {"count", 2}});
  CHECK(body(f.get("/api/state", {{"stream", "counter-7"}, {"seq", "99"}}))["seq"] == 6);
  auto unowned = f.get("/api/state", {{"stream", "other-1"}});
  CHECK(unowned.status == 404);
  CHECK(body(unowned)["error"].get<std::string>().find("--app MODULE") != std::string::npos);
}

TEST_CASE("a trace is a tree by causation_id, depth first, found by correlation or message id") {
  Fixture f;
  auto a = traced("s-1", "t.a", "trip", "");
  auto b = traced("s-2", "t.b", "trip", a.id);
  auto c = traced("s-3", "t.c", "trip", a.id);
  auto d = traced("s-2", "t.d", "trip", b.id);
  auto lost = traced("s-4", "t.e", "trip", "0e4f8c56-9c38-4f5e-9d3c-000000000000");  // its cause is elsewhere
  f.runtime.store().append("s-1", ExpectedSeq::any(), {a});
  f.runtime.store().append("s-2", ExpectedSeq::any(), {b});
  f.runtime.store().append("s-3", ExpectedSeq::any(), {c});
  f.runtime.store().append("s-2", ExpectedSeq::any(), {d});
  f.runtime.store().append("s-4", ExpectedSeq::any(), {lost});

  auto tree = body(f.get("/api/trace", {{"id", "trip"}}));
  CHECK(tree["correlation_id"] == "trip");
  CHECK(tree["count"] == 5);
  CHECK(tree["cut"] == false);
  std::vector<std::tuple<std::string, int, Json>> nodes;
  for (const auto& n : tree["nodes"]) nodes.emplace_back(n["type"].get<std::string>(), n["depth"].get<int>(), n["parent"]);
  CHECK(nodes == std::vector<std::tuple<std::string, int, Json>>{{"t.a", 0, nullptr},
                                                                {"t.b", 1, a.id},
                                                                {"t.d", 2, b.id},
                                                                {"t.c", 1, a.id},
                                                                {"t.e", 0, nullptr}});
  CHECK(tree["nodes"][0]["children"] == 2);
  CHECK(body(f.get("/api/trace", {{"id", d.id}}))["count"] == 5);  // by one of its message ids
  auto cut = body(f.get("/api/trace", {{"id", "trip"}, {"limit", "2"}}));
  CHECK(cut["cut"] == true);
  CHECK(cut["count"] == 2);
  auto none = f.get("/api/trace", {{"id", "no-such-trip"}});
  CHECK(none.status == 400);
  CHECK(body(none)["error"] == "no message has id or correlation id 'no-such-trip'");
}

TEST_CASE("event streams push the status when it changes, are bounded in number and end on stop") {
  Fixture f;
  console::Options options;
  options.status_interval = std::chrono::milliseconds(10);
  options.max_event_streams = 2;
  options.keepalive_interval = std::chrono::hours(1);  // no comment lines among the frames counted
  Console bounded(f.runtime, options);
  auto one = bounded.open_event_stream();
  auto two = bounded.open_event_stream();
  REQUIRE(one);
  REQUIRE(two);
  CHECK_FALSE(bounded.open_event_stream());  // the UI polls instead
  two.reset();
  CHECK(bounded.open_event_stream());

  std::vector<std::string> frames;
  std::thread reader([&] {
    one->run([&](std::string_view frame) {
      frames.emplace_back(frame);
      if (frames.size() == 2) f.stop("counter.views", "counter-7");  // the status changes
      return frames.size() < 3;
    });
  });
  reader.join();
  REQUIRE(frames.size() == 3);
  CHECK(frames[0] == "retry: 2000\n\n");
  CHECK(frames[1].rfind("event: status\ndata: {", 0) == 0);
  CHECK(frames[2].find("poison increment on counter-7") != std::string::npos);

  // Nothing changes: a comment line now and then, so a departed browser is noticed at the write.
  console::Options chatty_options;
  chatty_options.status_interval = std::chrono::milliseconds(5);
  chatty_options.keepalive_interval = std::chrono::milliseconds(5);
  Console chatty(f.runtime, chatty_options);
  std::vector<std::string> seen;
  chatty.open_event_stream()->run([&](std::string_view frame) {
    seen.emplace_back(frame);
    return seen.size() < 4;
  });
  REQUIRE(seen.size() == 4);
  CHECK(seen[1].rfind("event: status", 0) == 0);
  CHECK(seen[2] == ": still here\n\n");

  // stop() ends a stream that is waiting for a change.
  auto waiting = bounded.open_event_stream();
  REQUIRE(waiting);
  std::thread quiet([&] { waiting->run([](std::string_view) { return true; }); });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  bounded.stop();
  quiet.join();
  CHECK_FALSE(bounded.open_event_stream());
}

TEST_CASE("mounted on the HTTP endpoint: the page with headers that keep it its own, the API, the token") {
  Fixture f;
  f.stop("counter.views", "counter-7");
  console::Options options;
  options.token = "s3cret";
  options.max_event_streams = 0;  // every event stream refused: the page polls
  http::Server server(console::server_options());
  console::add_console_routes(server, std::make_shared<Console>(f.runtime, options));
  auto address = server.start("127.0.0.1:0");

  auto page = testing::http_get(address, "/");
  CHECK(page.status == 200);
  CHECK(page.content_type == "text/html; charset=utf-8");
  CHECK(page.header("Content-Security-Policy").find("script-src 'self'") != std::string::npos);
  CHECK(page.header("X-Content-Type-Options") == "nosniff");
  CHECK(testing::http_get(address, "/console.js").status == 200);
  CHECK(testing::http_get(address, "/index.html").body == page.body);
  CHECK(testing::http_get(address, "/metrics").status == 404);  // the endpoint's, not the console's

  auto status = testing::http_get(address, "/api/status");
  CHECK(status.status == 200);
  CHECK(status.header("Cache-Control") == "no-store");
  CHECK(Json::parse(status.body)["failed_streams"][0]["stream_id"] == "counter-7");
  auto events = testing::http_get(address, "/api/events");
  CHECK(events.status == 503);
  CHECK(Json::parse(events.body)["error"].get<std::string>().find("poll /api/status") != std::string::npos);

  const std::string target = R"({"group": "counter.views", "stream": "counter-7"})";
  auto missing = testing::http_post(address, "/api/actions/resume", target);
  CHECK(missing.status == 401);
  CHECK(missing.header("WWW-Authenticate") == "Bearer");
  CHECK(testing::http_post(address, "/api/actions/resume", target, "Bearer nope").status == 403);
  CHECK(f.stopped("counter.views", "counter-7"));
  auto done = testing::http_post(address, "/api/actions/resume", target, "Bearer s3cret");
  CHECK(done.status == 200);
  CHECK_FALSE(f.stopped("counter.views", "counter-7"));
  server.stop();
}
