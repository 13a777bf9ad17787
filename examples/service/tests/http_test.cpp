// The service over HTTP, driven as its clients drive it: on the in-memory store, and on PostgreSQL
// when CAIRN_TEST_DATABASE_URL names a server where the test may create a database.
#include <doctest/doctest.h>

#include <chrono>
#include <cstdlib>
#include <string>

#include <httplib.h>

#include "scratch_database.hpp"
#include "service.hpp"

namespace {

struct Reply {
  int status = 0;
  cairn::Json body;
};

Reply reply_of(const httplib::Result& result) {
  REQUIRE(result);
  return {result->status, cairn::Json::parse(result->body)};
}

Reply post(httplib::Client& client, const std::string& path, const std::string& payload,
           const httplib::Headers& headers = {}) {
  return reply_of(client.Post(path.c_str(), headers, payload, "application/json"));
}

Reply get(httplib::Client& client, const std::string& path) { return reply_of(client.Get(path.c_str())); }

bool mentions(const Reply& reply, const std::string& text) {
  return reply.body["error"].get<std::string>().find(text) != std::string::npos;
}

void check_service(const cairn::Config& config) {
  inventory::Service service(config);
  httplib::Client client("127.0.0.1", service.start("127.0.0.1", 0));
  client.set_read_timeout(std::chrono::seconds(30));  // above the service's own 5 s wait, on a loaded machine

  auto received = post(client, "/streams/item-tea/commands/inventory.receive", R"({"quantity": 5})",
                       {{"X-Request-Id", "delivery-17"}});
  CHECK(received.status == 200);
  REQUIRE(received.body["events"].size() == 1);
  auto event = received.body["events"][0];
  CHECK(event["type"] == "inventory.received");
  CHECK(event["payload"] == cairn::Json{{"quantity", 5}});
  CHECK(event["metadata"]["correlation_id"] == "delivery-17");
  CHECK(received.body["seq"] == event["seq"]);

  auto refused = post(client, "/streams/item-tea/commands/inventory.ship", R"({"quantity": 7})");
  CHECK(refused.status == 422);
  CHECK(refused.body["code"] == "insufficient_stock");
  CHECK(refused.body["error"] == "cannot ship 7: 5 on hand");

  auto malformed = post(client, "/streams/item-tea/commands/inventory.ship", R"({"quantity": )");
  CHECK(malformed.status == 400);
  CHECK(mentions(malformed, "the payload"));

  auto unknown = post(client, "/streams/item-tea/commands/inventory.steal", "{}");
  CHECK(unknown.status == 400);
  CHECK(mentions(unknown, "inventory.steal"));

  auto wrong_field = post(client, "/streams/item-tea/commands/inventory.ship", R"({"quantity": "two"})");
  CHECK(wrong_field.status == 400);
  CHECK(mentions(wrong_field, "quantity"));

  auto state = get(client, "/streams/item-tea");
  CHECK(state.status == 200);
  CHECK(state.body == cairn::Json{{"on_hand", 5}});
  CHECK(get(client, "/streams/cart-1").status == 400);  // no actor owns it

  // Read your own write: with the stream and seq its POST returned, the view already includes it.
  auto shipped = post(client, "/streams/item-tea/commands/inventory.ship", R"({"quantity": 2})");
  REQUIRE(shipped.status == 200);
  auto seq = shipped.body["seq"].dump();
  auto view = get(client, "/projections/inventory.stock_levels/item-tea?stream=item-tea&seq=" + seq);
  CHECK(view.status == 200);
  CHECK(view.body == cairn::Json{{"on_hand", 3}, {"received", 5}, {"shipped", 2}});

  CHECK(get(client, "/projections/inventory.stock_levels/item-jam").status == 404);
  CHECK(get(client, "/projections/inventory.nothing/item-tea").status == 404);
  auto bad_seq = get(client, "/projections/inventory.stock_levels/item-tea?stream=item-tea&seq=last");
  CHECK(bad_seq.status == 400);
  CHECK(mentions(bad_seq, "?stream=S&seq=N"));
}

}  // namespace

TEST_CASE("the service on the in-memory store") { check_service(cairn::Config{}); }

TEST_CASE("the service on PostgreSQL" * doctest::skip(std::getenv("CAIRN_TEST_DATABASE_URL") == nullptr)) {
  ScratchDatabase database(std::getenv("CAIRN_TEST_DATABASE_URL"));
  cairn::Config config;
  config.database_url = database.url();
  config.migrate = true;
  check_service(config);
}
