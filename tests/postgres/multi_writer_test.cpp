// Several runtimes (in this process and in other processes) writing one stream: no lost update.
#include <doctest/doctest.h>

#include <atomic>
#include <future>
#include <mutex>
#include <thread>

#include "runtime/runtime.hpp"
#include "tests/support/counter_actor.hpp"
#include "tests/support/process.hpp"
#include "tests/support/test_database.hpp"

using namespace cairn;

namespace {

std::unique_ptr<Runtime> counter_runtime(const std::string& url, int conflict_retries) {
  Config config;
  config.database_url = url;
  config.conflict_retries = conflict_retries;
  auto runtime = std::make_unique<Runtime>(config);
  counter::install(runtime->app());
  return runtime;
}

}  // namespace

TEST_CASE("two runtimes on one stream: the stale one reloads and retries, nothing is lost") {
  testing::TestDatabase db;
  auto a = counter_runtime(db.url(), 50);
  auto b = counter_runtime(db.url(), 50);
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

TEST_CASE("a conflict past the retry bound is reported, never silently dropped") {
  testing::TestDatabase db;
  auto a = counter_runtime(db.url(), 5);
  auto b = counter_runtime(db.url(), 0);
  REQUIRE(b->handle("counter-c", counter::Increment{1}).ok());  // b's actor is now live at seq 2
  REQUIRE(a->handle("counter-c", counter::Increment{1}).ok());  // a writes behind b's back
  auto stale = b->handle("counter-c", counter::Increment{1});
  CHECK(stale.status == HandleResult::Status::conflict);
  CHECK(stale.seq == 4);
  CHECK(stale.error.find("expected seq 2, stream is at 4") != std::string::npos);
  CHECK(b->store().head_seq("counter-c") == 4);
  auto retried = a->handle("counter-c", counter::Increment{1});
  CHECK(retried.ok());
  CHECK(a->load<counter::State>("counter-c").count == 3);
}

TEST_CASE("concurrent cairn handle processes on one stream: every success is stored once") {
  testing::TestDatabase db;
  constexpr int processes = 6;
  std::vector<std::future<testing::ProcessResult>> runs;
  for (int p = 0; p < processes; ++p)
    runs.push_back(std::async(std::launch::async, [&db, p] {
      return testing::run_process(CAIRN_CLI_PATH, {"--db", db.url(), "handle", "--app", CAIRN_COUNTER_MODULE,
                                                   "counter-procs", "counter.increment",
                                                   "{\"by\":" + std::to_string(p + 1) + "}"});
    }));
  long expected_total = 0;
  int succeeded = 0;
  for (int p = 0; p < processes; ++p) {
    auto result = runs[static_cast<size_t>(p)].get();
    CHECK((result.exit_code == 0 || result.exit_code == 3));
    if (result.exit_code == 0) {
      ++succeeded;
      expected_total += p + 1;
    }
  }
  auto runtime = counter_runtime(db.url(), 5);
  auto state = runtime->load<counter::State>("counter-procs");
  CHECK(state.count == succeeded);
  CHECK(state.total == expected_total);
  CHECK(runtime->store().head_seq("counter-procs") == 2 * succeeded);
  CHECK(succeeded == processes);  // 5 retries are plenty for 6 single commands
}
