// The public edge: <cairn/cairn.hpp> compiles with the public include directory alone (this target
// sees neither "backends/" nor "actors/"), brings neither CAF nor libpqxx, and is enough to run an actor.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <cairn/cairn.hpp>

#if defined(PQXX_VERSION)
#error "<cairn/cairn.hpp> pulls in libpqxx: only <cairn/sql_projector.hpp> may"
#endif
#if defined(CAF_VERSION)
#error "<cairn/cairn.hpp> pulls in CAF, which is the library's own business"
#endif
#if defined(CPPHTTPLIB_VERSION)
#error "<cairn/cairn.hpp> pulls in cpp-httplib, which the HTTP endpoint keeps to itself"
#endif

namespace edge {
struct Tally {
  int total = 0;
};
struct Add {
  int by = 1;
};
struct Added {
  int by = 1;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Tally, total)
}  // namespace edge

CAIRN_MESSAGE(edge::Add, "edge.add", 1, by)
CAIRN_MESSAGE(edge::Added, "edge.added", 1, by)

TEST_CASE("the umbrella header alone runs an actor on the embedded store") {
  auto tally = cairn::actor<edge::Tally>("tally")
                   .decide<edge::Add>([](const edge::Tally&, const edge::Add& c) -> cairn::Decision {
                     if (c.by <= 0) return cairn::reject("only positive amounts");
                     return edge::Added{c.by};
                   })
                   .evolve<edge::Added>([](edge::Tally& t, const edge::Added& e) { t.total += e.by; });
  cairn::Runtime runtime;
  runtime.add(tally);
  CHECK(runtime.handle("tally-1", edge::Add{2}).ok());
  CHECK(runtime.handle("tally-1", edge::Add{-1}).status == cairn::HandleResult::Status::rejected);
  CHECK(runtime.load<edge::Tally>("tally-1").total == 2);
}

TEST_CASE("a service registers its own metrics beside the runtime's and renders them, with the public headers alone") {
  cairn::Runtime runtime;
  auto& orders = runtime.metrics().counter("shop_orders_total", "Orders placed", {"region"});
  orders.labels({"eu"}).inc();
  auto text = runtime.metrics().render();
  CHECK(text.find("shop_orders_total{region=\"eu\"} 1\n") != std::string::npos);
  CHECK(text.find("cairn_build_info{version=\"" CAIRN_VERSION "\"} 1\n") != std::string::npos);
  CHECK(runtime.readiness().ready());
  CHECK_THROWS_AS(runtime.serve_http("not an address"), cairn::BadInput);
}
