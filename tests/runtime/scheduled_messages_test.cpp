// Scheduled messages on the backend under test: one that cannot enter its stream is reported and
// kept; a reaction's delay counts from its event.
#include <doctest/doctest.h>

#include <mutex>
#include <thread>

#include <cairn/runtime.hpp>
#include "tests/support/backend.hpp"
#include "tests/support/counter_actor.hpp"
#include "tests/support/eventually.hpp"
#include "tests/support/runtimes.hpp"

using namespace cairn;
using cairn::testing::eventually;

namespace loans {
// A borrow reminds its loan later: `delay_ms` after the borrow, or at `remind_at_us` (since the epoch).
struct Borrow {
  int delay_ms = 0;
  int64_t remind_at_us = 0;
};
struct Borrowed {
  int delay_ms = 0;
  int64_t remind_at_us = 0;
};
struct Remind {};
struct Reminded {};
struct State {
  bool reminded = false;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(State, reminded)
}  // namespace loans

CAIRN_MESSAGE(loans::Borrow, "loans.borrow", 1, delay_ms, remind_at_us)
CAIRN_MESSAGE(loans::Borrowed, "loans.borrowed", 1, delay_ms, remind_at_us)
CAIRN_MESSAGE(loans::Remind, "loans.remind", 1)
CAIRN_MESSAGE(loans::Reminded, "loans.reminded", 1)

namespace {

std::unique_ptr<Runtime> loans_runtime() {
  auto runtime = testing::backend_runtime();
  runtime->add(actor<loans::State>("loan")
                   .decide<loans::Borrow>([](const loans::State&, const loans::Borrow& c) -> Decision {
                     return loans::Borrowed{c.delay_ms, c.remind_at_us};
                   })
                   .decide<loans::Remind>([](const loans::State&, const loans::Remind&) -> Decision {
                     return loans::Reminded{};
                   })
                   .uses<loans::Reminded>(MessageKind::event)
                   .react<loans::Borrowed>([](const loans::Borrowed& e, const Message& event) {
                     auto remind = send(event.stream_id, loans::Remind{});
                     if (e.remind_at_us) return Commands{remind.at(Timestamp(std::chrono::microseconds(e.remind_at_us)))};
                     return Commands{remind.after(std::chrono::milliseconds(e.delay_ms))};
                   }));
  return runtime;
}

}  // namespace

TEST_CASE("a reaction's delay counts from its event's created_at: a worker that starts late delivers what is overdue at once") {
  auto runtime = loans_runtime();
  auto borrowed = [&](const std::string& loan, loans::Borrow borrow) {
    auto result = runtime->handle(loan, borrow);
    REQUIRE(result.ok());
    return result.events.at(0).created_at;
  };
  auto soon = borrowed("loan-soon", {3000, 0});
  auto overdue = borrowed("loan-overdue", {1000, 0});
  auto fixed = now() + std::chrono::hours(1);
  borrowed("loan-fixed", {0, fixed.time_since_epoch().count()});
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));  // the worker starts late
  auto started = now();
  runtime->start_consumers(testing::quiet_workers());
  auto reminded = [&](const std::string& loan) { return runtime->store().head_seq(loan) == 4; };
  REQUIRE(eventually([&] { return reminded("loan-soon") && reminded("loan-overdue"); }, std::chrono::seconds(10)));
  // Counted from the reaction, which runs after `started`, the overdue one could come no earlier
  // than started + 1 s: anything before that proves it counted from its event (whatever the
  // worker's start-up costs, e.g. under the sanitizers on a loaded machine).
  auto delivered = [&](const std::string& loan) { return runtime->store().read_stream(loan).at(2).created_at; };
  CHECK(delivered("loan-overdue") < started + std::chrono::milliseconds(1000));
  CHECK(delivered("loan-soon") >= soon + std::chrono::seconds(3));
  CHECK(delivered("loan-soon") < started + std::chrono::seconds(3));  // counted from the reaction: no earlier
  CHECK(delivered("loan-overdue") >= overdue + std::chrono::seconds(1));
  // .at() is due at its own time, whenever the reaction runs.
  auto waiting = runtime->store().schedule_summary();
  CHECK(waiting.pending == 1);
  CHECK(waiting.next_due == fixed);
  CHECK(runtime->store().head_seq("loan-fixed") == 2);
  runtime->shutdown();
}

TEST_CASE("scheduled messages: a due message that cannot be appended is logged with its id and reason") {
  auto runtime = testing::backend_runtime();
  counter::install(runtime->app());
  auto taken = make_command("counter-a", counter::Increment{1});
  runtime->store().append("counter-a", ExpectedSeq::exactly(0), {taken});
  auto clash = taken;  // its id is already in counter-a
  clash.stream_id = "counter-b";
  runtime->store().schedule(clash, now() - std::chrono::seconds(1));
  runtime->store().schedule(make_command("counter-b", counter::Increment{2}),
                            now() - std::chrono::seconds(1));

  std::mutex mutex;
  std::vector<std::string> lines;
  auto options = testing::quiet_workers({"no.such.group"});
  options.log = [&](const LogRecord& record) {
    std::lock_guard lock(mutex);
    lines.push_back(record.message);
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
