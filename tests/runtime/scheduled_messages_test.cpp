// Scheduled messages on the backend under test: one that cannot enter its stream is reported and kept.
#include <doctest/doctest.h>

#include <mutex>

#include "runtime/runtime.hpp"
#include "tests/support/backend.hpp"
#include "tests/support/counter_actor.hpp"
#include "tests/support/eventually.hpp"
#include "tests/support/runtimes.hpp"

using namespace cairn;
using cairn::testing::eventually;

TEST_CASE("scheduled messages: a due message that cannot be appended is logged with its id and reason") {
  auto runtime = testing::backend_runtime();
  counter::install(runtime->app());
  auto taken = Runtime::make_command("counter-a", counter::Increment{1}, {});
  runtime->store().append("counter-a", ExpectedSeq::exactly(0), {taken});
  auto clash = taken;  // its id is already in counter-a
  clash.stream_id = "counter-b";
  runtime->store().schedule(clash, now() - std::chrono::seconds(1));
  runtime->store().schedule(Runtime::make_command("counter-b", counter::Increment{2}, {}),
                            now() - std::chrono::seconds(1));

  std::mutex mutex;
  std::vector<std::string> lines;
  auto options = testing::quiet_workers({"no.such.group"});
  options.log = [&](const std::string& line) {
    std::lock_guard lock(mutex);
    lines.push_back(line);
  };
  runtime->start_consumers(options);
  auto logged = [&] {
    std::lock_guard lock(mutex);
    for (const auto& line : lines)
      if (line.find(taken.id) != std::string::npos && line.find("could not be delivered") != std::string::npos)
        return true;
    return false;
  };
  CHECK(eventually([&] { return runtime->store().head_seq("counter-b") == 1; }));
  CHECK(eventually(logged, std::chrono::seconds(5)));
  runtime->shutdown();
  CHECK(runtime->store().read_stream("counter-b")[0].payload["by"] == 2);
}
