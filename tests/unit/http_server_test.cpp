// The HTTP server under Cairn's endpoint: addresses, routes, errors, streamed responses, a taken port.
#include <doctest/doctest.h>

#include <atomic>

#include <cairn/errors.hpp>
#include "runtime/http/server.hpp"
#include "tests/support/http_client.hpp"

using namespace cairn;
using testing::http_get;

TEST_CASE("addresses: HOST:PORT, a port alone on 127.0.0.1, IPv6 in brackets; the rest is bad input") {
  CHECK(http::parse_address("127.0.0.1:9464") == std::pair<std::string, int>{"127.0.0.1", 9464});
  CHECK(http::parse_address("0.0.0.0:80") == std::pair<std::string, int>{"0.0.0.0", 80});
  CHECK(http::parse_address("9464") == std::pair<std::string, int>{"127.0.0.1", 9464});
  CHECK(http::parse_address(":0") == std::pair<std::string, int>{"127.0.0.1", 0});
  CHECK(http::parse_address("[::1]:9464") == std::pair<std::string, int>{"::1", 9464});
  CHECK(http::parse_address("localhost:8080") == std::pair<std::string, int>{"localhost", 8080});
  for (const char* bad : {"", "host:", "host:65536", "host:-1", "host:12ab", "::1:80", "a b:80", "host:000000001"})
    CHECK_THROWS_AS(http::parse_address(bad), BadInput);
}

TEST_CASE("a server answers its routes, 404 otherwise, 500 with the message when a handler throws") {
  http::Server server;
  server.get("/hello", [](const http::Request& request) {
    return http::Response::text(200, "hello " + request.parameter("name", "nobody") + "\n");
  });
  server.get("/things/([a-z]+)", [](const http::Request& request) {
    return http::Response::json({{"thing", request.matches.at(1)}});
  });
  server.get("/boom", [](const http::Request&) -> http::Response { throw std::runtime_error("it broke"); });
  server.post("/echo", [](const http::Request& request) { return http::Response::text(201, request.body); });
  auto address = server.start("127.0.0.1:0");
  CHECK(address.rfind("127.0.0.1:", 0) == 0);
  CHECK(address != "127.0.0.1:0");

  auto hello = http_get(address, "/hello?name=ann");
  CHECK(hello.status == 200);
  CHECK(hello.body == "hello ann\n");
  CHECK(hello.content_type == "text/plain; charset=utf-8");
  auto thing = http_get(address, "/things/cart");
  CHECK(thing.status == 200);
  CHECK(thing.content_type == "application/json");
  CHECK(Json::parse(thing.body)["thing"] == "cart");
  CHECK(http_get(address, "/nothing").status == 404);
  auto boom = http_get(address, "/boom");
  CHECK(boom.status == 500);
  CHECK(boom.body.find("it broke") != std::string::npos);

  server.stop();
  server.stop();  // idempotent
  CHECK(http_get(address, "/hello", std::chrono::seconds(2)).status == 0);
}

TEST_CASE("a streamed response arrives chunk by chunk until its producer ends") {
  http::Server server;
  server.get("/events", [](const http::Request&) {
    http::Response response;
    response.content_type = "text/event-stream";
    auto sent = std::make_shared<int>(0);
    response.stream = [sent](const http::ChunkWriter& write) {
      if (!write("data: " + std::to_string(++*sent) + "\n\n")) return false;
      return *sent < 3;
    };
    return response;
  });
  auto address = server.start(":0");
  auto events = http_get(address, "/events");
  CHECK(events.status == 200);
  CHECK(events.content_type == "text/event-stream");
  CHECK(events.body == "data: 1\n\ndata: 2\n\ndata: 3\n\n");
}

TEST_CASE("a port another server listens on is refused, not shared") {
  http::Server first, second;
  first.get("/who", [](const http::Request&) { return http::Response::text(200, "first"); });
  auto address = first.start("127.0.0.1:0");
  CHECK_THROWS_AS(second.start(address), StoreError);
  for (int i = 0; i < 10; ++i) CHECK(http_get(address, "/who").body == "first");
}
