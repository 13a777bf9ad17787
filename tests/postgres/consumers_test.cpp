// Consumer groups in one process on PostgreSQL: projector exactly once, reactions through the log,
// poison streams, resume and skip, reset and replay, scheduled commands, lock release.
#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <fstream>
#include <map>
#include <mutex>
#include <thread>

#include <pqxx/pqxx>

#include <cairn/projector.hpp>
#include <cairn/runtime.hpp>
#include <cairn/stream_projector.hpp>
#include "tests/support/eventually.hpp"
#include "tests/support/faulty_store.hpp"
#include "tests/support/counter_consumers.hpp"
#include "tests/support/test_database.hpp"

using namespace cairn;
using cairn::testing::eventually;

namespace {

// The counter actor, without consumers.
std::unique_ptr<Runtime> counter_runtime(const std::string& url) {
  Config config;
  config.database_url = url;
  auto runtime = std::make_unique<Runtime>(config);
  counter::install(runtime->app());
  return runtime;
}

std::unique_ptr<Runtime> consumer_runtime(const std::string& url) {
  auto runtime = counter_runtime(url);
  counter::install_consumers(runtime->app());
  runtime->migrate();  // the counter's read-model tables
  return runtime;
}

WorkerOptions fast() {
  WorkerOptions options;
  options.poll_interval = std::chrono::milliseconds(10);
  options.backoff_base = std::chrono::milliseconds(2);
  options.max_attempts = 3;
  options.log = [](const LogRecord&) {};
  return options;
}

// stream -> (total, events, last_seq) from the projector's table.
std::map<std::string, std::tuple<long, long, long>> totals(const std::string& url,
                                                           const std::string& table = "public.counter_totals") {
  pqxx::connection c(url);
  pqxx::read_transaction tx(c);
  std::map<std::string, std::tuple<long, long, long>> out;
  if (tx.exec1("SELECT to_regclass('" + table + "') IS NULL")[0].as<bool>()) return out;
  for (const auto& r : tx.exec("SELECT stream_id, total, events, last_seq FROM " + table))
    out[r[0].c_str()] = {r[1].as<long>(), r[2].as<long>(), r[3].as<long>()};
  return out;
}

// The same, folded from the log itself.
std::map<std::string, std::tuple<long, long, long>> fold_of_log(Runtime& runtime) {
  std::map<std::string, std::tuple<long, long, long>> out;
  for (const auto& s : runtime.store().list_streams(100000))
    for (const auto& m : runtime.store().read_stream(s.stream_id)) {
      if (m.type != "counter.incremented") continue;
      auto& [total, events, last] = out[m.stream_id];
      total += m.payload.value("by", 0);
      events += 1;
      last = m.seq;
    }
  return out;
}

// Explains a mismatch between the projector's table and the log.
void explain(const std::string& url, Runtime& runtime) {
  auto table = totals(url);
  for (const auto& [stream, fold] : fold_of_log(runtime))
    if (table[stream] != fold)
      MESSAGE(stream << ": table " << std::get<0>(table[stream]) << "/" << std::get<1>(table[stream]) << "/"
                     << std::get<2>(table[stream]) << ", log " << std::get<0>(fold) << "/" << std::get<1>(fold) << "/"
                     << std::get<2>(fold));
  for (const auto& f : runtime.store().failed_streams("counter.totals"))
    MESSAGE("failed " << f.stream_id << " at " << f.failed_seq << ": " << f.error);
  for (const auto& s : runtime.store().slice_status("counter.totals"))
    MESSAGE("slice " << s.slice << " at " << s.cursor.str() << " owner " << s.owner << " lag " << s.lag_events);
}

int advisory_locks(const std::string& url) {
  pqxx::connection c(url);
  pqxx::read_transaction tx(c);
  return tx.exec1("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'")[0].as<int>();
}

}  // namespace

TEST_CASE("the projector's table is the fold of the log; reactions go through the log") {
  testing::TestDatabase db;
  auto runtime = consumer_runtime(db.url());
  runtime->start_consumers(fast());
  std::vector<std::thread> writers;
  for (int w = 0; w < 4; ++w)
    writers.emplace_back([&, w] {
      for (int i = 0; i < 50; ++i)
        REQUIRE(runtime->handle("counter-" + std::to_string((w * 50 + i) % 20), counter::Increment{i % 7 + 1}).ok());
    });
  for (auto& t : writers) t.join();
  auto big = runtime->handle("counter-big", counter::Increment{100});
  REQUIRE(big.ok());
  CHECK(eventually([&] { return runtime->store().head_seq("counter-big-echo") == 2; }));
  auto echo = runtime->store().read_stream("counter-big-echo");
  REQUIRE(echo.size() == 2);
  CHECK(echo[0].type == "counter.increment");
  CHECK(echo[0].metadata["causation_id"] == big.events[0].id);
  CHECK(echo[1].type == "counter.incremented");
  auto trail = runtime->store().read_correlation(big.events[0].metadata["correlation_id"].get<std::string>());
  CHECK(trail.size() == 4);  // command, event, the reaction's command, its event
  if (!eventually([&] { return totals(db.url()) == fold_of_log(*runtime); })) {
    explain(db.url(), *runtime);
    FAIL_CHECK("the projector's table differs from the log");
  }
  CHECK(totals(db.url()).size() == 22);
}

TEST_CASE("a poison event stops only its stream; resume after a fix and skip both work") {
  testing::TestDatabase db;
  auto runtime = consumer_runtime(db.url());
  runtime->start_consumers(fast());
  REQUIRE(runtime->handle("counter-poison", counter::Increment{666}).ok());
  REQUIRE(runtime->handle("counter-poison", counter::Increment{1}).ok());
  REQUIRE(runtime->handle("counter-skip", counter::Increment{666}).ok());
  REQUIRE(runtime->handle("counter-skip", counter::Increment{2}).ok());
  for (int i = 0; i < 5; ++i) REQUIRE(runtime->handle("counter-fine", counter::Increment{1}).ok());
  CHECK(eventually([&] { return runtime->store().failed_streams("counter.totals").size() == 2; }));
  CHECK(eventually([&] { return std::get<1>(totals(db.url())["counter-fine"]) == 5; }));
  auto failed = runtime->store().failed_streams("counter.totals");
  CHECK(failed[0].stopped);
  CHECK(failed[0].error.find("poison increment") != std::string::npos);
  CHECK(failed[0].failed_seq == 2);
  CHECK(failed[0].attempts == 3);
  CHECK(totals(db.url()).count("counter-poison") == 0);

  {
    pqxx::connection c(db.url());
    pqxx::work tx(c);
    tx.exec0("INSERT INTO public.counter_fixes VALUES ('counter-poison')");
    tx.commit();
  }
  runtime->store().resume_stream("counter.totals", "counter-poison", false);
  runtime->store().resume_stream("counter.totals", "counter-skip", true);
  CHECK(eventually([&] { return runtime->store().failed_streams("counter.totals").empty(); }));
  auto t = totals(db.url());
  CHECK(t["counter-poison"] == std::tuple<long, long, long>{667, 2, 4});
  CHECK(t["counter-skip"] == std::tuple<long, long, long>{2, 1, 4});
  CHECK_THROWS_AS(runtime->store().resume_stream("counter.totals", "counter-fine", false), BadInput);
}

TEST_CASE("a poison event inside a batch: the events before it are applied, the stream stops at it") {
  testing::TestDatabase db;
  auto runtime = consumer_runtime(db.url());
  for (int by : {1, 2, 666, 3}) REQUIRE(runtime->handle("counter-mid", counter::Increment{by}).ok());
  runtime->start_consumers(fast());  // the four events arrive in one batch, applied in one transaction
  CHECK(eventually([&] { return runtime->store().failed_streams("counter.totals").size() == 1; }));
  CHECK(totals(db.url())["counter-mid"] == std::tuple<long, long, long>{3, 2, 4});
  CHECK(runtime->store().failed_streams("counter.totals")[0].failed_seq == 6);
  {
    pqxx::connection c(db.url());
    pqxx::work tx(c);
    tx.exec0("INSERT INTO public.counter_fixes VALUES ('counter-mid')");
    tx.commit();
  }
  runtime->store().resume_stream("counter.totals", "counter-mid", false);
  CHECK(eventually([&] { return std::get<1>(totals(db.url())["counter-mid"]) == 4; }));
  CHECK(totals(db.url())["counter-mid"] == std::tuple<long, long, long>{672, 4, 8});
}

TEST_CASE("reset rebuilds an identical read model, and side effects are not called while replaying") {
  testing::TestDatabase db;
  char path[] = "/tmp/cairn-effects-XXXXXX";
  close(mkstemp(path));
  setenv("COUNTER_EFFECTS_FILE", path, 1);
  auto runtime = consumer_runtime(db.url());
  runtime->start_consumers(fast());
  for (int i = 0; i < 30; ++i) REQUIRE(runtime->handle("counter-r" + std::to_string(i % 3), counter::Increment{i + 1}).ok());
  CHECK(eventually([&] { return totals(db.url()) == fold_of_log(*runtime); }));
  auto count_lines = [&] {
    std::ifstream in(path);
    return static_cast<int>(std::count(std::istreambuf_iterator<char>(in), {}, '\n'));
  };
  CHECK(eventually([&] { return count_lines() >= 30; }));
  auto before = totals(db.url());
  auto effects_before = count_lines();

  // Stopped first, so they stay stopped after the reset and the empty table can be seen.
  runtime->store().set_group_active("counter.totals", false);
  runtime->store().set_group_active("counter.effects", false);
  runtime->reset_group("counter.totals");
  runtime->reset_group("counter.effects");
  CHECK(totals(db.url()).empty());
  runtime->store().set_group_active("counter.totals", true);
  runtime->store().set_group_active("counter.effects", true);
  CHECK(eventually([&] { return totals(db.url()) == before; }));
  CHECK(eventually([&] {
    auto status = runtime->store().slice_status("counter.effects");
    long lag = 0;
    for (const auto& s : status) lag += s.lag_events;
    return lag == 0;
  }));
  CHECK(count_lines() == effects_before);  // replayed, but not called again
  REQUIRE(runtime->handle("counter-r0", counter::Increment{1}).ok());
  CHECK(eventually([&] { return count_lines() == effects_before + 1; }));
  unsetenv("COUNTER_EFFECTS_FILE");
  std::remove(path);
}

TEST_CASE("reset while the group is busy: no batch of the old generation lands in the rebuilt table") {
  testing::TestDatabase db;
  auto runtime = consumer_runtime(db.url());
  runtime->start_consumers(fast());
  std::atomic<bool> writing{true};
  std::vector<std::thread> writers;
  for (int w = 0; w < 3; ++w)
    writers.emplace_back([&, w] {
      for (int i = 0; writing; ++i) REQUIRE(runtime->handle("counter-b" + std::to_string((w * 7 + i) % 20), counter::Increment{1}).ok());
    });
  for (int round = 0; round < 3; ++round) {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    runtime->reset_group("counter.totals");  // the group keeps running around it
    CHECK(runtime->store().find_group("counter.totals")->active);
  }
  writing = false;
  for (auto& t : writers) t.join();
  if (!eventually([&] { return totals(db.url()) == fold_of_log(*runtime); })) {
    explain(db.url(), *runtime);
    FAIL("the rebuilt table differs from the log");
  }
}

// One unit holding one event from before the reset's replay boundary and two after it: the replayed
// pass alone is too small for a batch, and the live pass must not jump over it.
TEST_CASE("reset: an event just before the replay boundary is applied with the ones after it") {
  testing::TestDatabase db;
  auto runtime = consumer_runtime(db.url());
  runtime->start_consumers(fast());
  REQUIRE(runtime->handle("counter-edge", counter::Increment{1}).ok());
  CHECK(eventually([&] { return totals(db.url()) == fold_of_log(*runtime); }));
  runtime->store().set_group_active("counter.totals", false);
  runtime->reset_group("counter.totals");
  REQUIRE(runtime->handle("counter-edge", counter::Increment{2}).ok());
  REQUIRE(runtime->handle("counter-edge", counter::Increment{4}).ok());
  runtime->store().set_group_active("counter.totals", true);
  CHECK(eventually([&] { return std::get<2>(totals(db.url())["counter-edge"]) == 6; }));
  CHECK(totals(db.url())["counter-edge"] == std::tuple<long, long, long>{7, 3, 6});
}

TEST_CASE("a batch SQL projector: runs of events in one call, the fold of the log, a poison event stops only its stream") {
  testing::TestDatabase db;
  auto owned = counter_runtime(db.url());
  auto& runtime = *owned;
  std::atomic<size_t> longest_run{0};
  runtime.add(counter::batched_projector(longest_run));
  runtime.migrate();
  for (int i = 0; i < 200; ++i)
    REQUIRE(runtime.handle("counter-" + std::to_string(i % 20), counter::Increment{i % 7 + 1}).ok());
  for (int by : {1, 666, 2}) REQUIRE(runtime.handle("counter-poison", counter::Increment{by}).ok());
  runtime.start_consumers(fast());  // every event is there: the first reads bring runs across streams
  CHECK(eventually([&] { return runtime.store().failed_streams("counter.batched").size() == 1; }));
  auto log = fold_of_log(runtime);
  CHECK(eventually([&] {
    auto table = totals(db.url(), "public.counter_batched");
    for (const auto& [stream, fold] : log)
      if (stream != "counter-poison" && table[stream] != fold) return false;
    return true;
  }));
  CHECK(totals(db.url(), "public.counter_batched")["counter-poison"] == std::tuple<long, long, long>{1, 1, 2});
  CHECK(runtime.store().failed_streams("counter.batched")[0].failed_seq == 4);
  CHECK(longest_run.load() > 1);  // runs, not one event a call
}

TEST_CASE("delayed commands arrive at, not before, their time") {
  testing::TestDatabase db;
  auto runtime = consumer_runtime(db.url());
  runtime->start_consumers(fast());
  auto due = now() + std::chrono::milliseconds(800);
  runtime->dispatch("counter-later", counter::Increment{5}, due);
  auto soon = runtime->dispatch("counter-now", counter::Increment{3});
  CHECK(eventually([&] { return runtime->store().head_seq("counter-now") == 2; }));
  CHECK(runtime->store().read_stream("counter-now")[0].id == soon);
  // Stored already only if its time has come (a loaded machine can take that long to get here).
  auto later_head = runtime->store().head_seq("counter-later");
  CHECK((later_head == 0 || now() >= due));
  CHECK(eventually([&] { return runtime->store().head_seq("counter-later") == 2; }));
  auto later = runtime->store().read_stream("counter-later");
  CHECK(later[0].created_at >= due);
  CHECK(later[1].type == "counter.incremented");
  CHECK(runtime->load<counter::State>("counter-later").total == 5);

  auto rejected = runtime->dispatch("counter-now", counter::Increment{-1});
  CHECK(eventually([&] { return runtime->store().head_seq("counter-now") == 4; }));
  auto last = runtime->store().read_stream("counter-now").back();
  CHECK(last.type == "cairn.command_rejected");
  CHECK(last.payload["command_id"] == rejected);
  CHECK(last.payload["reason"] == "by must be positive, got -1");
  CHECK(last.payload["code"] == "not_positive");
}

TEST_CASE("stopping the consumers releases every advisory lock") {
  testing::TestDatabase db;
  auto runtime = consumer_runtime(db.url());
  runtime->start_consumers(fast());
  CHECK(eventually([&] { return advisory_locks(db.url()) > 0; }));
  runtime->stop_consumers();
  CHECK(eventually([&] { return advisory_locks(db.url()) == 0; }));
}

TEST_CASE("read your writes: wait_for returns once the projector has the write") {
  testing::TestDatabase db;
  auto runtime = consumer_runtime(db.url());
  runtime->start_consumers(fast());
  for (int i = 0; i < 5; ++i) {
    auto result = runtime->handle("counter-ryw", counter::Increment{10});
    REQUIRE(result.ok());
    REQUIRE(runtime->wait_for("counter.totals", "counter-ryw", result.seq));
    CHECK(std::get<0>(totals(db.url())["counter-ryw"]) == 10 * (i + 1));
  }
  CHECK(runtime->wait_for("counter.totals", "counter-empty", 0));
  CHECK_THROWS_AS(runtime->wait_for("no.such.group", "counter-ryw", 1), BadInput);
  runtime->stop_consumers();
  auto result = runtime->handle("counter-ryw", counter::Increment{1});
  CHECK_FALSE(runtime->wait_for("counter.totals", "counter-ryw", result.seq, std::chrono::milliseconds(200)));
}

namespace {

// How many commands and events of each stream a version of "counter.audit" saw.
struct Audit {
  long commands = 0;
  long events = 0;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Audit, commands, events)

// A worker's log lines, written by its runners and read by the test.
struct Log {
  std::mutex mutex;
  std::vector<std::string> lines;
  bool mentions(const std::string& text) {
    std::lock_guard lock(mutex);
    return std::any_of(lines.begin(), lines.end(), [&](const auto& line) { return line.find(text) != std::string::npos; });
  }
};

// Version 1 of the audit reads the counter's events; version 2 also its commands.
std::unique_ptr<Runtime> audit_version(const std::string& url, int version, Log& log) {
  Config config;
  config.database_url = url;
  auto runtime = std::make_unique<Runtime>(config);
  counter::install(runtime->app());
  auto audit = state_projector<Audit>("counter.audit");
  auto by_stream = [](const auto&, const Message& m) { return m.stream_id; };
  audit->on<counter::Incremented>(by_stream, [](Audit& a, const counter::Incremented&, const Message&) { a.events += 1; });
  if (version == 2)
    audit->on<counter::Increment>(by_stream, [](Audit& a, const counter::Increment&, const Message&) { a.commands += 1; });
  runtime->add(audit);
  auto workers = fast();
  workers.groups = {"counter.audit"};
  workers.log = [&log](const LogRecord& record) {
    std::lock_guard lock(log.mutex);
    log.lines.push_back(record.message);
  };
  runtime->start_consumers(workers);
  return runtime;
}

}  // namespace

TEST_CASE("a rolling deploy: a version that handles more types takes the group over; the older one steps back") {
  testing::TestDatabase db;
  Log old_log, new_log;
  auto old_version = audit_version(db.url(), 1, old_log);
  REQUIRE(eventually([&] { return old_log.mentions("took slice"); }));
  auto new_version = audit_version(db.url(), 2, new_log);  // no command passed yet: it adopts its types
  CHECK(eventually([&] { return old_log.mentions("another version changed the group's shape"); }));
  CHECK(eventually([&] { return old_log.mentions("not running: consumer group counter.audit reads [counter.increment]"); }));
  for (int i = 0; i < 20; ++i) REQUIRE(old_version->handle("counter-roll" + std::to_string(i % 4), counter::Increment{1}).ok());
  for (int i = 0; i < 4; ++i) {
    auto stream = "counter-roll" + std::to_string(i);
    CHECK(eventually([&] {
      auto audit = new_version->projection<Audit>("counter.audit", stream);
      return audit && audit->commands == 5 && audit->events == 5;  // nothing passed by the older version
    }));
  }
}

TEST_CASE("a version that adds a handler for events the group already passed is refused until a reset replays them") {
  testing::TestDatabase db;
  Log old_log, new_log;
  auto old_version = audit_version(db.url(), 1, old_log);
  for (int i = 0; i < 6; ++i) REQUIRE(old_version->handle("counter-late", counter::Increment{1}).ok());
  REQUIRE(old_version->wait_for("counter.audit", "counter-late", 12));
  // Its cursor is saved after the projection's rows: until then, nothing is passed yet.
  REQUIRE(eventually([&] {
    long lag = 0;
    for (const auto& slice : old_version->store().slice_status("counter.audit")) lag += slice.lag_events;
    return lag == 0;
  }));
  auto new_version = audit_version(db.url(), 2, new_log);
  CHECK(eventually([&] { return new_log.mentions("has already passed 6 events of [counter.increment]"); }));
  CHECK(new_log.mentions("cairn reset counter.audit"));
  REQUIRE(old_version->handle("counter-late", counter::Increment{1}).ok());  // the older version runs on
  CHECK(eventually([&] { return old_version->projection<Audit>("counter.audit", "counter-late")->events == 7; }));
  CHECK(old_version->projection<Audit>("counter.audit", "counter-late")->commands == 0);

  new_version->reset_group("counter.audit");  // the group takes version 2's types and replays history
  CHECK(eventually([&] {
    auto audit = new_version->projection<Audit>("counter.audit", "counter-late");
    return audit && audit->commands == 7 && audit->events == 7;
  }));
  CHECK(eventually([&] { return old_log.mentions("not running: consumer group counter.audit reads [counter.increment]"); }));
}

TEST_CASE("resetting an SQL projector that has no reset hook is refused") {
  testing::TestDatabase db;
  auto owned = counter_runtime(db.url());
  auto& runtime = *owned;
  auto bare = sql_projector("counter.bare");
  bare->on<counter::Incremented>([](pqxx::work&, const counter::Incremented&, const Message&) {});
  runtime.add(bare);
  runtime.start_consumers(fast());
  REQUIRE(eventually([&] { return runtime.store().find_group("counter.bare").has_value(); }));
  CHECK_THROWS_WITH_AS(runtime.reset_group("counter.bare"), doctest::Contains("has no on_reset hook"), BadInput);
  CHECK(runtime.store().find_group("counter.bare")->active);  // nothing was reset, the group runs on
}

TEST_CASE("at most once: commands delivered again after their progress is deleted by hand are not decided again") {
  testing::TestDatabase db;
  std::string deposit, refused;
  {
    auto runtime = consumer_runtime(db.url());
    runtime->start_consumers(fast());
    deposit = runtime->dispatch("counter-sql", counter::Increment{5});
    refused = runtime->dispatch("counter-sql", counter::Increment{-1});
    REQUIRE(eventually([&] {
      auto progress = runtime->store().load_progress("cairn.commands", {"counter-sql"});
      return !progress.empty() && progress.front().seq == 2;
    }));
    REQUIRE(runtime->store().head_seq("counter-sql") == 4);
  }
  {
    // The marks go, and the cursor goes back to the start (without it nothing is delivered again).
    pqxx::connection c(db.url());
    pqxx::work tx(c);
    tx.exec0("DELETE FROM cairn.group_streams WHERE group_id = 'cairn.commands'");
    tx.exec0("UPDATE cairn.group_slices SET cursor_xid = '0', cursor_position = 0 WHERE group_id = 'cairn.commands'");
    tx.commit();
  }
  auto runtime = consumer_runtime(db.url());  // a new process: its stream actor rehydrates
  runtime->start_consumers(fast());
  REQUIRE(eventually([&] {
    long lag = 0;
    for (const auto& s : runtime->store().slice_status("cairn.commands")) lag += s.lag_events;
    auto progress = runtime->store().load_progress("cairn.commands", {"counter-sql"});
    return lag == 0 && !progress.empty() && progress.front().seq == 2;
  }));
  auto stream = runtime->store().read_stream("counter-sql");
  REQUIRE(stream.size() == 4);
  CHECK(stream[2].type == "counter.incremented");
  CHECK(stream[2].metadata["causation_id"] == deposit);
  CHECK(stream[3].type == "cairn.command_rejected");
  CHECK(stream[3].metadata["causation_id"] == refused);
  CHECK(runtime->load<counter::State>("counter-sql").total == 5);
}

TEST_CASE("an SQL projector commits a feed batch across streams at once; a poison event still stops only its stream") {
  testing::TestDatabase db;
  auto runtime = consumer_runtime(db.url());
  auto wide = [](int s) { return "counter-wide" + std::to_string(s); };
  for (int s = 0; s < 60; ++s)
    for (int by : {1, 2}) REQUIRE(runtime->handle(wide(s), counter::Increment{by}).ok());
  {  // which transaction applied each event
    pqxx::connection c(db.url());
    pqxx::work tx(c);
    tx.exec0("CREATE TABLE counter_applied (stream_id text, seq bigint, txid bigint)");
    tx.exec0("CREATE FUNCTION counter_note() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
             "INSERT INTO counter_applied VALUES (NEW.stream_id, NEW.last_seq, txid_current()); RETURN NEW; END $$");
    tx.exec0("CREATE TABLE IF NOT EXISTS public.counter_totals (stream_id text PRIMARY KEY, total bigint NOT NULL, "
             "events bigint NOT NULL, last_seq bigint NOT NULL)");
    tx.exec0("CREATE TRIGGER counter_note AFTER INSERT OR UPDATE ON public.counter_totals FOR EACH ROW "
             "EXECUTE FUNCTION counter_note()");
    tx.commit();
  }
  auto workers = fast();
  workers.batch_size = 1000;
  runtime->start_consumers(workers);
  CHECK(eventually([&] { return totals(db.url()).size() == 60; }));
  {
    pqxx::connection c(db.url());
    pqxx::read_transaction tx(c);
    auto applied = tx.exec1("SELECT count(*), count(DISTINCT txid) FROM counter_applied");
    INFO(applied[0].as<int>(), " events applied in ", applied[1].as<int>(), " transactions");
    CHECK(applied[0].as<int>() == 120);
    CHECK(applied[1].as<int>() <= 4);  // one per stream handler's share of the batch, not one per stream
  }

  // A poison event fails its batch: the streams go one by one, and only the poisoned one stops.
  REQUIRE(runtime->handle(wide(7), counter::Increment{666}).ok());
  for (int s = 0; s < 60; s += 3) REQUIRE(runtime->handle(wide(s), counter::Increment{4}).ok());
  CHECK(eventually([&] { return runtime->store().failed_streams("counter.totals").size() == 1; }));
  // After a failed batch the streams go one by one on every stream handler at once, in no order
  // across handlers: the last stream written says nothing of the others.
  auto unsettled = [&] {
    std::string out;
    auto table = totals(db.url());
    for (int s = 0; s < 60; ++s) {
      auto got = table[wide(s)];
      if (got == (s % 3 ? std::tuple<long, long, long>{3, 2, 4} : std::tuple<long, long, long>{7, 3, 6})) continue;
      auto [total, events, last_seq] = got;
      out += " " + wide(s) + "=" + std::to_string(total) + "/" + std::to_string(events) + "/" + std::to_string(last_seq);
    }
    return out;
  };
  CHECK(eventually([&] { return unsettled().empty(); }));
  CHECK(unsettled() == "");
  CHECK(runtime->store().failed_streams("counter.totals")[0].stream_id == wide(7));
  CHECK(runtime->store().failed_streams("counter.totals")[0].failed_seq == 6);
}

// A runner applies a batch without reading its streams' marks first: the marks' write checks
// that no stream was further on than the runner knew.
TEST_CASE("an SQL projector's transaction that meets events it applied before applies only the rest") {
  testing::TestDatabase db;
  auto runtime = counter_runtime(db.url());
  auto& store = runtime->store();
  store.ensure_group("g", 1, StartFrom::beginning());
  auto lease = store.try_lease_slice("g", 0, "me");
  REQUIRE(lease != nullptr);
  {
    pqxx::connection c(db.url());
    pqxx::work tx(c);
    tx.exec0("CREATE TABLE applied (stream_id text, seq bigint)");
    tx.exec0("CREATE TABLE applied_once (stream_id text, seq bigint, PRIMARY KEY (stream_id, seq))");
    tx.exec0("INSERT INTO applied_once VALUES ('s-2', 1), ('s-2', 2)");
    tx.commit();
  }
  // Events 1 and 2 of each stream were applied and marked by a commit whose outcome the runner
  // never learned, and it tries them again.
  store.mark_handled({"g", "s-1", 2});
  store.mark_handled({"g", "s-2", 2});
  auto events = [](const std::string& stream, int64_t from, int64_t to) {
    std::vector<Message> out;
    for (auto seq = from; seq <= to; ++seq) {
      out.push_back(make_message(stream, "test.happened", Json::object()));
      out.back().seq = seq;
    }
    return out;
  };
  int runs = 0;
  auto apply = [&](const std::string& table, const std::vector<Message>& batch) {
    store.sql()->transact_with_marks({{"g", batch.front().stream_id, batch.back().seq, lease->fence()}}, {},
                                     [&](pqxx::work& tx, const SqlTransactions::Handled& handled) {
                                       ++runs;
                                       for (const auto& e : batch)
                                         if (!handled(e))
                                           tx.exec_params("INSERT INTO " + table + " VALUES ($1, $2)", e.stream_id, e.seq);
                                     });
  };
  auto seqs = [&](const std::string& table, const std::string& stream) {
    pqxx::connection c(db.url());
    pqxx::read_transaction tx(c);
    std::vector<int64_t> out;
    for (const auto& r : tx.exec_params("SELECT seq FROM " + table + " WHERE stream_id = $1 ORDER BY seq", stream))
      out.push_back(r[0].as<int64_t>());
    return out;
  };
  auto mark = [&](const std::string& stream) { return store.load_progress("g", {stream}).at(0).seq; };

  apply("applied", events("s-1", 1, 3));  // the first try applies 1-3, finds the mark at 2 and is undone
  CHECK(seqs("applied", "s-1") == std::vector<int64_t>{3});
  CHECK(mark("s-1") == 3);
  CHECK(runs == 2);

  runs = 0;  // a handler that fails on what it applied before is not taken for a poison event
  apply("applied_once", events("s-2", 1, 3));
  CHECK(seqs("applied_once", "s-2") == std::vector<int64_t>{1, 2, 3});
  CHECK(mark("s-2") == 3);
  CHECK(runs == 2);

  runs = 0;  // where the runner knows, one try
  apply("applied", events("s-1", 4, 5));
  CHECK(seqs("applied", "s-1") == std::vector<int64_t>{3, 4, 5});
  CHECK(mark("s-1") == 5);
  CHECK(runs == 1);
}

TEST_CASE("processes share a group's slices fairly, and the one left takes them all") {
  testing::TestDatabase db;
  auto first = consumer_runtime(db.url());
  auto second = consumer_runtime(db.url());
  auto workers = fast();
  workers.groups = {"counter.totals"};
  first->start_consumers(workers);
  second->start_consumers(workers);
  auto owners = [&] {
    std::map<std::string, int> held;
    for (const auto& s : first->store().slice_status("counter.totals"))
      if (!s.owner.empty()) ++held[s.owner];
    return held;
  };
  auto even = [&] {
    auto held = owners();
    return held.size() == 2 && std::all_of(held.begin(), held.end(), [](const auto& h) { return h.second == 2; });
  };
  CHECK(eventually(even));
  for (int i = 0; i < 40; ++i) REQUIRE(first->handle("counter-fair" + std::to_string(i % 8), counter::Increment{1}).ok());
  second->shutdown();
  CHECK(eventually([&] { return owners().size() == 1 && owners().begin()->second == 4; }));
  for (int i = 0; i < 40; ++i) REQUIRE(first->handle("counter-fair" + std::to_string(i % 8), counter::Increment{1}).ok());
  if (!eventually([&] { return totals(db.url()) == fold_of_log(*first); })) {
    explain(db.url(), *first);
    FAIL_CHECK("the projector's table differs from the log");
  }
}

namespace {

// Hangs the runner's reads while `frozen`: a runner that is stuck but still connected.
class FreezableStore final : public testing::ForwardingStore {
 public:
  explicit FreezableStore(std::unique_ptr<Store> inner) : ForwardingStore(std::move(inner)) {}
  FeedCursor feed_head() override {
    while (frozen) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    return inner().feed_head();
  }
  std::atomic<bool> frozen{false};
};

struct Tally {
  long total = 0;
  long events = 0;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Tally, total, events)

std::unique_ptr<Runtime> tally_runtime(Config config) {
  auto runtime = std::make_unique<Runtime>(config);
  counter::install(runtime->app());
  auto tally = stream_projector<Tally>("counter.tally");
  tally->on<counter::Incremented>([](Tally& view, const counter::Incremented& e, const Message&) {
    view.total += e.by;
    view.events += 1;
  });
  runtime->add(tally);
  return runtime;
}

}  // namespace

TEST_CASE("a frozen runner, still connected, loses its slices after the stall timeout; nothing is applied twice") {
  testing::TestDatabase db;
  FreezableStore* freezable = nullptr;
  Config config;
  config.database_url = db.url();
  testing::wrap_store_in(config, freezable);
  auto stuck = tally_runtime(config);
  auto workers = fast();
  workers.groups = {"counter.tally"};
  workers.stall_timeout = std::chrono::milliseconds(500);
  std::vector<std::string> stuck_log;
  std::mutex log_mutex;
  workers.log = [&](const LogRecord& record) {
    std::lock_guard lock(log_mutex);
    stuck_log.push_back(record.message);
  };
  stuck->start_consumers(workers);
  auto increment = [&](int i) { REQUIRE(stuck->handle("counter-frozen" + std::to_string(i % 4), counter::Increment{i}).ok()); };
  for (int i = 1; i <= 8; ++i) increment(i);
  auto views_equal_log = [&](Runtime& reader) {
    for (int s = 0; s < 4; ++s) {
      auto stream = "counter-frozen" + std::to_string(s);
      auto view = reader.projection<Tally>("counter.tally", stream);
      auto state = reader.load<counter::State>(stream);
      if (!view || view->total != state.total || view->events != state.count) return false;
    }
    return true;
  };
  REQUIRE(eventually([&] { return views_equal_log(*stuck); }));

  freezable->frozen = true;
  for (int i = 9; i <= 16; ++i) increment(i);
  Config plain;
  plain.database_url = db.url();
  auto healthy = tally_runtime(plain);
  auto healthy_workers = fast();
  healthy_workers.groups = {"counter.tally"};
  healthy->start_consumers(healthy_workers);
  // The stuck runner's leases are freed by its watchdog; the healthy process takes every slice.
  CHECK(eventually([&] { return views_equal_log(*healthy); }, std::chrono::seconds(10)));

  freezable->frozen = false;  // it wakes up: its leases are gone, and it writes nothing of theirs
  for (int i = 17; i <= 24; ++i) increment(i);
  CHECK(eventually([&] { return views_equal_log(*healthy); }, std::chrono::seconds(10)));
  // The woken runner says so when it next looks at its leases, which on a loaded machine can be
  // after the healthy process has caught up.
  auto lost_logged = [&] {
    std::lock_guard lock(log_mutex);
    return std::any_of(stuck_log.begin(), stuck_log.end(),
                       [](const std::string& line) { return line.find("lost slice") != std::string::npos; });
  };
  CHECK(eventually(lost_logged, std::chrono::seconds(10)));
  stuck->stop_consumers();
}
