// The benchmark's application module (scale-out): one side-effect group doing a small, fixed
// amount of CPU work per counter event. Its name comes from $CAIRN_BENCH_GROUP, so every run
// starts a fresh group.
#include <chrono>
#include <cstdlib>

#include <cairn/application.hpp>
#include <cairn/consumer.hpp>
#include "tests/support/counter_actor.hpp"

namespace {
constexpr auto work_per_event = std::chrono::microseconds(10);
}

CAIRN_MODULE(app) {
  const char* group = std::getenv("CAIRN_BENCH_GROUP");
  auto work = cairn::side_effect(group && *group ? group : "bench.scale");
  work->slices(4).on<counter::Incremented>([](const counter::Incremented&, const cairn::Message&) {
    auto until = std::chrono::steady_clock::now() + work_per_event;
    while (std::chrono::steady_clock::now() < until) {
    }
  });
  app.add(work);
}
