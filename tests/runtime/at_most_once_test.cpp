// Invariant 9 on the backend under test: a stored command is decided at most once, whatever fails
// around it (an in-doubt commit, a re-delivery, a crash between a rejection and its mark).
#include <doctest/doctest.h>

#include "runtime/reactions.hpp"
#include <cairn/runtime.hpp>
#include "tests/support/backend.hpp"
#include "tests/support/counter_actor.hpp"
#include "tests/support/eventually.hpp"
#include "tests/support/faulty_store.hpp"
#include "tests/support/runtimes.hpp"

using namespace cairn;
using cairn::testing::DeliveryFaults;
using cairn::testing::eventually;

namespace {

const std::string commands = CommandDelivery::group;

// A counter runtime on an emptied store of the backend under test, seen through a FaultyStore.
std::unique_ptr<Runtime> faulty_runtime(std::shared_ptr<DeliveryFaults> faults) {
  Config config;
  config.database_url = testing::fresh_backend_url();
  config.wrap_store = [faults](std::unique_ptr<Store> inner) -> std::unique_ptr<Store> {
    return std::make_unique<testing::FaultyStore>(std::move(inner), faults);
  };
  auto runtime = std::make_unique<Runtime>(config);
  counter::install(runtime->app());
  return runtime;
}

WorkerOptions workers() {
  auto options = testing::quiet_workers({commands});
  options.backoff_base = std::chrono::milliseconds(2);
  return options;
}

// The messages of `type` in the stream that answer the command `id` (caused by it).
long answers(Runtime& runtime, const std::string& stream, const std::string& type, const std::string& id) {
  long n = 0;
  for (const auto& m : runtime.store().read_stream(stream))
    n += m.type == type && m.metadata.value("causation_id", "") == id;
  return n;
}

// The command group has passed every entry of the feed, and recorded the stream up to `seq`.
bool delivered(Runtime& runtime, const std::string& stream, int64_t seq) {
  long lag = 0;
  for (const auto& s : runtime.store().slice_status(commands)) lag += s.lag_events;
  auto progress = runtime.store().load_progress(commands, {stream});
  return lag == 0 && !progress.empty() && progress.front().seq >= seq;
}

}  // namespace

TEST_CASE("at most once: a stored command whose commit was in doubt is not decided again") {
  auto faults = std::make_shared<DeliveryFaults>();
  auto runtime = faulty_runtime(faults);
  runtime->start_consumers(workers());
  // The first append carrying the delivery's mark commits, then reports an error: the runner
  // retries the command in the same batch, the stream actor reloads and sees the answer.
  faults->throw_after_commit = true;
  SUBCASE("a deposit") {
    auto id = runtime->dispatch("counter-doubt", counter::Increment{5});
    REQUIRE(eventually([&] { return faults->fired == 1 && delivered(*runtime, "counter-doubt", 1); }));
    CHECK(answers(*runtime, "counter-doubt", "counter.incremented", id) == 1);
    CHECK(runtime->store().head_seq("counter-doubt") == 2);
    CHECK(runtime->load<counter::State>("counter-doubt").total == 5);
  }
  SUBCASE("a rejection") {
    auto id = runtime->dispatch("counter-doubt", counter::Increment{-1});
    REQUIRE(eventually([&] { return faults->fired == 1 && delivered(*runtime, "counter-doubt", 1); }));
    CHECK(answers(*runtime, "counter-doubt", "cairn.command_rejected", id) == 1);
    CHECK(runtime->store().head_seq("counter-doubt") == 2);
    auto rejection = from_payload<Rejection>(runtime->store().read_stream("counter-doubt").at(1).payload);
    CHECK(rejection.code == "not_positive");  // decide's code, recorded for whoever reads the log
    CHECK(rejection.reason == "by must be positive, got -1");
  }
  runtime->shutdown();
}

TEST_CASE("at most once: dispatched commands delivered again (progress lost, cursor rewound) are not decided again") {
  auto faults = std::make_shared<DeliveryFaults>();
  auto runtime = faulty_runtime(faults);
  runtime->start_consumers(workers());
  auto deposit = runtime->dispatch("counter-again", counter::Increment{5});
  auto refused = runtime->dispatch("counter-again", counter::Increment{-1});
  REQUIRE(eventually([&] { return delivered(*runtime, "counter-again", 2); }));
  REQUIRE(runtime->store().head_seq("counter-again") == 4);
  runtime->stop_consumers();

  // What a lost mark plus a rewound cursor do: every command is delivered again. Runtime::reset_group
  // refuses this group; the store's reset (like hand-written SQL) does not.
  // (tests/postgres does it with SQL, to a new process's stream actor.)
  runtime->store().reset_group(commands);
  runtime->start_consumers(workers());
  REQUIRE(eventually([&] { return delivered(*runtime, "counter-again", 2); }));
  CHECK(runtime->store().head_seq("counter-again") == 4);
  CHECK(answers(*runtime, "counter-again", "counter.incremented", deposit) == 1);
  CHECK(answers(*runtime, "counter-again", "cairn.command_rejected", refused) == 1);
  CHECK(runtime->load<counter::State>("counter-again").total == 5);
  runtime->shutdown();
}

TEST_CASE("at most once: a crash between a stored command's rejection and its mark leaves one rejection") {
  auto faults = std::make_shared<DeliveryFaults>();
  auto runtime = faulty_runtime(faults);
  // A dispatched command this version cannot read (written by another version, say): it is
  // invalid, so it is answered with a rejection naming the reason, and its mark.
  auto bad = make_message("counter-bad", "counter.increment", {{"by", "lots"}});
  mark_dispatched(bad);
  runtime->store().append("counter-bad", ExpectedSeq::any(), {bad});
  faults->throw_before_mark = true;  // a separate mark after the rejection never gets written
  runtime->start_consumers(workers());
  REQUIRE(eventually([&] { return delivered(*runtime, "counter-bad", 1); }));
  CHECK(answers(*runtime, "counter-bad", "cairn.command_rejected", bad.id) == 1);
  auto stream = runtime->store().read_stream("counter-bad");
  REQUIRE(stream.size() == 2);
  CHECK(stream[1].payload["reason"].get<std::string>().find("field 'by'") != std::string::npos);
  CHECK(stream[1].payload["code"] == "cairn.invalid");
  runtime->shutdown();
}
