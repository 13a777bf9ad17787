// Several runtimes (in this process and in other processes) writing one stream: no lost update.
#include <doctest/doctest.h>

#include <atomic>
#include <future>
#include <mutex>
#include <sstream>
#include <thread>

#include <cairn/runtime.hpp>
#include "tests/support/counter_actor.hpp"
#include "tests/support/process.hpp"
#include "tests/support/test_database.hpp"

using namespace cairn;

namespace {

std::unique_ptr<Runtime> counter_runtime(const std::string& url) {
  Config config;
  config.database_url = url;
  auto runtime = std::make_unique<Runtime>(config);
  counter::install(runtime->app());
  return runtime;
}

}  // namespace

TEST_CASE("two runtimes on one stream: the stale one reloads and retries, nothing is lost") {
  testing::TestDatabase db;
  auto a = counter_runtime(db.url());
  auto b = counter_runtime(db.url());
  std::atomic<int> ok{0};
  std::mutex mutex;
  std::vector<std::string> errors;
  auto writer = [&](Runtime& runtime) {
    for (int i = 0; i < 100; ++i) {
      auto result = runtime.handle("counter-shared", counter::Increment{1});
      ok += result.ok();
      std::lock_guard lock(mutex);
      if (!result.ok()) errors.push_back(result.error);
    }
  };
  std::thread ta(writer, std::ref(*a)), tb(writer, std::ref(*b));
  ta.join();
  tb.join();
  for (const auto& e : errors) FAIL_CHECK(e);
  CHECK(ok.load() == 200);
  auto state = a->load<counter::State>("counter-shared");
  CHECK(state.count == 200);
  CHECK(a->store().head_seq("counter-shared") == 400);
}

TEST_CASE("a stale writer decides again under the stream's lock, on the state it catches up to") {
  testing::TestDatabase db;
  auto a = counter_runtime(db.url());
  auto b = counter_runtime(db.url());
  REQUIRE(b->handle("counter-c", counter::Increment{1}).ok());  // b's actor is now live at seq 2
  REQUIRE(a->handle("counter-c", counter::Increment{2}).ok());  // a writes behind b's back
  auto stale = b->handle("counter-c", counter::Increment{4});
  REQUIRE(stale.ok());
  CHECK(stale.seq == 6);
  REQUIRE(stale.events.size() == 1);
  CHECK(stale.events[0].seq == 6);  // decided after a's event, not on b's stale state
  auto state = b->load<counter::State>("counter-c");
  CHECK(state.count == 3);
  CHECK(state.total == 7);
  CHECK(a->handle("counter-c", counter::Increment{1}).ok());  // and a, stale in turn
  CHECK(a->load<counter::State>("counter-c").total == 8);
}

TEST_CASE("10 cairn handle processes x 20 commands on one stream: all 200 succeed, the state is the log's fold") {
  testing::TestDatabase db;
  constexpr int processes = 10, commands = 20;
  std::vector<std::future<testing::ProcessResult>> runs;
  for (int p = 0; p < processes; ++p) {
    // One shell per process sends its 20 commands one after the other, as a script would.
    auto handle = testing::shell_quote(CAIRN_CLI_PATH) + " --db " + testing::shell_quote(db.url()) + " handle --app " +
                  testing::shell_quote(CAIRN_COUNTER_MODULE) + " counter-hot counter.increment '{\"by\":" +
                  std::to_string(p + 1) + "}' >/dev/null";
    auto script = "for i in $(seq " + std::to_string(commands) + "); do " + handle + "; echo \"exit $?\"; done";
    runs.push_back(std::async(std::launch::async, [script] { return testing::run_process("sh", {"-c", script}); }));
  }
  long expected_total = 0;
  int succeeded = 0;
  for (int p = 0; p < processes; ++p) {
    auto result = runs[static_cast<size_t>(p)].get();
    std::istringstream lines(result.out);
    for (std::string line; std::getline(lines, line);) {
      if (line != "exit 0") FAIL_CHECK("process " << p << ": " << line << "\n" << result.err);
      else {
        ++succeeded;
        expected_total += p + 1;
      }
    }
  }
  CHECK(succeeded == processes * commands);
  auto runtime = counter_runtime(db.url());
  auto state = runtime->load<counter::State>("counter-hot");
  CHECK(state.count == succeeded);
  CHECK(state.total == expected_total);
  CHECK(runtime->store().head_seq("counter-hot") == 2 * succeeded);  // each command and its one event
}
