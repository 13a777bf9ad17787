// Reserved metadata on the backend under test: the keys Cairn acts on (dispatched, causation_id,
// correlation_id) are set by Cairn alone, and a stored value of the wrong type stops no worker.
#include <doctest/doctest.h>

#include <mutex>

#include "runtime/reactions.hpp"
#include <cairn/runtime.hpp>
#include "tests/support/backend.hpp"
#include "tests/support/counter_actor.hpp"
#include "tests/support/eventually.hpp"
#include "tests/support/runtimes.hpp"

using namespace cairn;
using cairn::testing::eventually;

namespace {

std::unique_ptr<Runtime> counter_runtime() {
  auto runtime = testing::backend_runtime();
  counter::install(runtime->app());
  return runtime;
}

// Runs `send` and returns the BadInput it threw ("" if it threw nothing).
template <class Send>
std::string bad_input_of(Send send) {
  try {
    send();
  } catch (const BadInput& e) {
    return e.what();
  }
  return "";
}

bool no_stopped_streams(Runtime& runtime, const std::string& group) {
  return runtime.store().failed_streams(group).empty();
}

}  // namespace

TEST_CASE("reserved metadata: handle and dispatch refuse the keys Cairn acts on, and write nothing") {
  auto runtime = counter_runtime();
  for (const auto& [key, value] : std::vector<std::pair<std::string, Json>>{
           {"dispatched", true}, {"causation_id", new_uuid()}, {"correlation_id", "req-17"}}) {
    CAPTURE(key);
    Json metadata = {{key, value}, {"user", "ann"}};
    auto handled = bad_input_of([&] { runtime->handle("counter-r", counter::Increment{1}, metadata); });
    CHECK(handled.find("'" + key + "'") != std::string::npos);
    auto command = make_command("counter-r", counter::Increment{1}, metadata);
    CHECK(bad_input_of([&] { runtime->dispatch("counter-r", command); }).find(key) != std::string::npos);
    CHECK(bad_input_of([&] { runtime->dispatch("counter-r", command, now() + std::chrono::hours(1)); })
              .find(key) != std::string::npos);
  }
  CHECK(runtime->store().head_seq("counter-r") == 0);
  CHECK(runtime->store().promote_due(now() + std::chrono::hours(2), 10).empty());
  // User keys, and the correlation id make_message gives a command (its own id), are the caller's.
  auto ok = runtime->handle("counter-r", counter::Increment{1}, {{"user", "ann"}, {"producer", "web"}});
  REQUIRE(ok.ok());
  CHECK(ok.events[0].metadata["user"] == "ann");
}

TEST_CASE("reserved metadata: a caller starts a trace with an id of its own through Trace, which is checked") {
  auto runtime = counter_runtime();
  REQUIRE(runtime->handle("counter-c", counter::Increment{1}, {}, Trace{"req-17"}).ok());
  for (const auto& m : runtime->store().read_stream("counter-c")) CHECK(m.metadata["correlation_id"] == "req-17");
  auto id = runtime->dispatch("counter-c", counter::Increment{1}, std::nullopt, Trace{"req-18"});
  CHECK(runtime->store().find_message(id)->metadata["correlation_id"] == "req-18");
  for (const auto& odd : {std::string(201, 'r'), std::string("req\n17"), std::string("req-\xff"), std::string()}) {
    CAPTURE(odd);
    auto trace = Trace{odd};
    if (odd.empty()) continue;  // an empty id means "none": the command's own id
    CHECK(bad_input_of([&] { runtime->handle("counter-c", counter::Increment{1}, {}, trace); })
              .find("correlation id") != std::string::npos);
    CHECK(bad_input_of([&] { runtime->dispatch("counter-c", counter::Increment{1}, std::nullopt, trace); })
              .find("correlation id") != std::string::npos);
  }
  CHECK(runtime->store().head_seq("counter-c") == 3);
  auto plain = runtime->handle("counter-p", counter::Increment{1});  // a trace of its own
  CHECK(plain.events[0].metadata["correlation_id"] == runtime->store().read_stream("counter-p")[0].id);
}

TEST_CASE("reserved metadata: a stored 'dispatched' of the wrong type stops no command delivery") {
  auto runtime = counter_runtime();
  auto odd = make_command("counter-t", counter::Increment{5});
  odd.metadata["dispatched"] = "yes";  // written raw, as an older version or a tool might have
  runtime->store().append("counter-t", ExpectedSeq::exactly(0), {odd});
  runtime->dispatch("counter-t", counter::Increment{2});
  runtime->start_consumers(testing::quiet_workers({CommandDelivery::group}));
  CHECK(eventually([&] { return runtime->load<counter::State>("counter-t").total == 2; }));
  CHECK(no_stopped_streams(*runtime, CommandDelivery::group));
  runtime->shutdown();
}
