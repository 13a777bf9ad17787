// The runtime on the backend under test: ordering, conflicts, rejections, passivation, snapshots,
// time travel, what-if, isolation between streams and upcasting.
#include <doctest/doctest.h>

#include <atomic>
#include <future>
#include <limits>
#include <map>
#include <set>
#include <thread>

#include <cairn/projector.hpp>
#include <cairn/runtime.hpp>
#include <cairn/stream_projector.hpp>
#include "tests/support/eventually.hpp"
#include "tests/support/backend.hpp"
#include "tests/support/counter_actor.hpp"
#include "tests/support/discount_cart.hpp"
#include "tests/support/faulty_store.hpp"
#include "tests/support/runtimes.hpp"

using namespace cairn;
using cairn::testing::fresh_backend_url;

namespace {

Config test_config() {
  Config config;
  config.database_url = fresh_backend_url();
  return config;
}

std::unique_ptr<Runtime> counter_runtime(Config config = test_config(), int snapshot_every = 0,
                                         int state_revision = 1) {
  auto runtime = std::make_unique<Runtime>(config);
  counter::install(runtime->app(), snapshot_every, state_revision);
  return runtime;
}

}  // namespace

TEST_CASE("handle decides, appends [command, events] and returns the events") {
  auto runtime = counter_runtime();
  auto result = runtime->handle("counter-1", counter::Increment{5}, {{"user", "ann"}});
  REQUIRE(result.ok());
  REQUIRE(result.events.size() == 1);
  const auto& event = result.events[0];
  CHECK(event.type == "counter.incremented");
  CHECK(event.revision == 2);
  CHECK(event.payload == Json{{"by", 5}});
  CHECK(event.seq == 2);
  CHECK(result.seq == 2);
  auto stored = runtime->store().read_stream("counter-1");
  REQUIRE(stored.size() == 2);
  CHECK(stored[0].type == "counter.increment");
  CHECK(event.metadata["causation_id"] == stored[0].id);
  CHECK(event.metadata["correlation_id"] == stored[0].id);
  CHECK(event.metadata["user"] == "ann");
  CHECK(event.metadata["producer"] == "counter");
  CHECK(runtime->load<counter::State>("counter-1").total == 5);
  CHECK(runtime->state_json("counter-1") == Json{{"total", 5}, {"count", 1}});
}

TEST_CASE("100 concurrent handle calls on one stream: no gaps, and the state is the sequential fold") {
  auto runtime = counter_runtime();
  std::vector<std::future<HandleResult>> futures;
  for (int i = 1; i <= 100; ++i)
    futures.push_back(runtime->handle_async("counter-hot", counter::Increment{i}));
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 25; ++i) ok += runtime->handle("counter-hot", counter::Increment{1}).ok();
    });
  for (auto& t : threads) t.join();
  for (auto& f : futures) ok += f.get().ok();
  CHECK(ok.load() == 200);
  auto stored = runtime->store().read_stream("counter-hot");
  REQUIRE(stored.size() == 400);
  for (size_t i = 0; i < stored.size(); ++i) CHECK(stored[i].seq == static_cast<int64_t>(i) + 1);
  auto state = runtime->load<counter::State>("counter-hot");
  CHECK(state.count == 200);
  CHECK(state.total == 5050 + 100);
}

namespace {

// Holds every append until the test opens the gate: a stream's commands pile up behind the first.
class GatedStore final : public testing::ForwardingStore {
 public:
  explicit GatedStore(std::unique_ptr<Store> inner) : ForwardingStore(std::move(inner)) {}
  std::vector<AppendOutcome> append_many(std::vector<AppendRequest> requests) override {
    gate.wait();
    return inner().append_many(std::move(requests));
  }
  std::shared_future<void> gate;
};

}  // namespace

TEST_CASE("a flood of commands to one stream is refused as overloaded past the queue bound; the rest are decided") {
  std::promise<void> open;
  auto config = test_config();
  config.max_queued_commands = 3;
  config.wrap_store = [&open](std::unique_ptr<Store> inner) {
    auto store = std::make_unique<GatedStore>(std::move(inner));
    store->gate = open.get_future().share();
    return std::unique_ptr<Store>(std::move(store));
  };
  auto runtime = counter_runtime(config);
  std::vector<std::future<HandleResult>> results;
  for (int i = 0; i < 10; ++i) results.push_back(runtime->handle_async("counter-flood", counter::Increment{1}));
  auto refused_at_once = testing::eventually([&] {
    int ready = 0;
    for (auto& r : results) ready += r.wait_for(std::chrono::seconds(0)) == std::future_status::ready;
    return ready == 7;
  });
  open.set_value();
  CHECK(refused_at_once);
  int ok = 0, overloaded = 0;
  for (auto& r : results) {
    auto result = r.get();
    ok += result.ok();
    if (result.status == HandleResult::Status::overloaded) {
      ++overloaded;
      CHECK(result.error.find("stream 'counter-flood' is overloaded: 3 commands are waiting") != std::string::npos);
    }
  }
  CHECK(ok == 3);
  CHECK(overloaded == 7);
  CHECK(exit_code(HandleResult::Status::overloaded) == 1);
  CHECK(runtime->load<counter::State>("counter-flood").count == 3);
  CHECK(runtime->handle("counter-flood", counter::Increment{1}).ok());  // the queue drained: served again
}

namespace {

// Holds the n-th append until its gate opens, and counts the appends and their messages.
class TurnstileStore final : public testing::ForwardingStore {
 public:
  explicit TurnstileStore(std::unique_ptr<Store> inner) : ForwardingStore(std::move(inner)) {}
  std::vector<AppendOutcome> append_many(std::vector<AppendRequest> requests) override {
    size_t call = calls++;
    if (call < gates.size()) gates[call].wait();
    for (const auto& r : requests) messages += r.messages.size();
    auto outcomes = inner().append_many(std::move(requests));
    if (call == in_doubt) throw Unavailable("connection lost after COMMIT was sent (injected by the test)");
    return outcomes;
  }
  size_t in_doubt = std::numeric_limits<size_t>::max();  // this call commits, then its outcome is unknown
  // Another process's append: around the gates and the runtime.
  void append_elsewhere(const std::string& stream, Message message) {
    inner().append(stream, ExpectedSeq::any(), {std::move(message)});
  }
  std::vector<std::shared_future<void>> gates;
  std::atomic<size_t> calls{0}, messages{0};
};

// An unlabelled sample of the runtime's metrics (-1 when it is not there).
double metric(Runtime& runtime, const std::string& name) {
  auto text = runtime.metrics().render();
  auto at = text.find("\n" + name + " ");
  return at == std::string::npos ? -1 : std::stod(text.substr(at + name.size() + 2));
}

double queued_commands(Runtime& runtime) { return metric(runtime, "cairn_stream_queued_commands"); }

struct Turnstile {
  std::vector<std::promise<void>> open;
  TurnstileStore* store = nullptr;

  explicit Turnstile(Config& config, size_t gated) : open(gated) {
    config.wrap_store = [this](std::unique_ptr<Store> inner) {
      auto wrapped = std::make_unique<TurnstileStore>(std::move(inner));
      for (auto& gate : open) wrapped->gates.push_back(gate.get_future().share());
      store = wrapped.get();
      return std::unique_ptr<Store>(std::move(wrapped));
    };
  }

  // The stream's first command, once the store holds its append at the first gate.
  std::future<HandleResult> hold_first(Runtime& runtime, const std::string& stream_id) {
    auto first = runtime.handle_async(stream_id, counter::Increment{1});
    CHECK(testing::eventually([&] { return store->calls.load() == 1; }));
    return first;
  }
};

}  // namespace

// The writer's threads share one queue: whatever stream an append is for, a free thread takes it.
TEST_CASE("an append held in the store does not hold back other streams' appends while a writer thread is free") {
  auto config = test_config();
  config.writers = 2;
  Turnstile turnstile(config, 1);
  auto runtime = counter_runtime(config);
  auto held = turnstile.hold_first(*runtime, "counter-held");
  int answered = 0;
  for (int s = 0; s < 4; ++s) {
    auto other = runtime->handle_async("counter-free-" + std::to_string(s), counter::Increment{1});
    if (other.wait_for(std::chrono::seconds(10)) != std::future_status::ready) break;
    answered += other.get().ok();
  }
  bool still_held = held.wait_for(std::chrono::seconds(0)) == std::future_status::timeout;
  turnstile.open[0].set_value();
  CHECK(answered == 4);
  CHECK(still_held);
  CHECK(held.get().ok());
}

// Commands sent together reach the stream in any order (each travels on its own); what is
// checked holds for every order.
TEST_CASE("a hot stream's queued commands are decided in turn and appended together; each gets its own answer") {
  auto config = test_config();
  Turnstile turnstile(config, 1);
  auto runtime = counter_runtime(config);
  auto first = turnstile.hold_first(*runtime, "counter-q");
  std::vector<int> bys{2, 3, -3, 4, 5};
  std::vector<std::future<HandleResult>> queued;
  for (int by : bys) queued.push_back(runtime->handle_async("counter-q", counter::Increment{by}));
  CHECK(testing::eventually([&] { return queued_commands(*runtime) == 6; }));  // all behind the first
  turnstile.open[0].set_value();
  REQUIRE(first.get().ok());
  auto stored = [&] { return runtime->store().read_stream("counter-q"); };
  std::set<int64_t> seqs;
  for (size_t i = 0; i < bys.size(); ++i) {
    auto answer = queued[i].get();
    if (bys[i] < 0) {
      CHECK(answer.status == HandleResult::Status::rejected);
      CHECK(answer.rejection_code == "not_positive");
      continue;
    }
    REQUIRE(answer.ok());
    REQUIRE(answer.events.size() == 1);
    const auto& event = answer.events[0];
    CHECK(event.payload == Json{{"by", bys[i]}});
    CHECK(answer.seq == event.seq);
    seqs.insert(event.seq);
    // The log holds this very event at its seq, right after the command that caused it.
    auto log = stored();
    REQUIRE(event.seq <= static_cast<int64_t>(log.size()));
    CHECK(log[event.seq - 1].id == event.id);
    CHECK(log[event.seq - 2].id == event.metadata["causation_id"]);
    CHECK(log[event.seq - 2].payload == Json{{"by", bys[i]}});
  }
  CHECK(seqs.size() == 4);
  // The first alone, then the other four in one append (the rejection stores nothing).
  CHECK(turnstile.store->calls.load() == 2);
  CHECK(turnstile.store->messages.load() == 10);
  auto state = runtime->load<counter::State>("counter-q");
  CHECK(state.total == 15);
  CHECK(state.count == 5);
}

TEST_CASE("a batch whose commit is in doubt answers every command as unavailable and decides none again") {
  auto config = test_config();
  Turnstile turnstile(config, 1);
  auto runtime = counter_runtime(config);
  turnstile.store->in_doubt = 1;  // the second append: the batch
  auto first = turnstile.hold_first(*runtime, "counter-d");
  auto two = runtime->handle_async("counter-d", counter::Increment{2});
  auto three = runtime->handle_async("counter-d", counter::Increment{3});
  CHECK(testing::eventually([&] { return queued_commands(*runtime) == 3; }));
  turnstile.open[0].set_value();
  CHECK(first.get().ok());
  CHECK(two.get().status == HandleResult::Status::unavailable);
  CHECK(three.get().status == HandleResult::Status::unavailable);
  CHECK(runtime->store().read_stream("counter-d").size() == 6);  // committed once, not decided again
  REQUIRE(runtime->handle("counter-d", counter::Increment{4}).ok());  // rehydrated: the batch is in the state
  CHECK(runtime->load<counter::State>("counter-d").total == 10);
}

TEST_CASE("a throwing decide among queued commands fails alone; the others are appended") {
  auto config = test_config();
  Turnstile turnstile(config, 1);
  auto runtime = counter_runtime(config);
  auto first = turnstile.hold_first(*runtime, "counter-f");
  auto two = runtime->handle_async("counter-f", counter::Increment{2});
  auto fail = runtime->handle_async("counter-f", counter::Fail{});
  auto three = runtime->handle_async("counter-f", counter::Increment{3});
  CHECK(testing::eventually([&] { return queued_commands(*runtime) == 4; }));
  turnstile.open[0].set_value();
  CHECK(first.get().ok());
  CHECK(two.get().ok());
  auto failed = fail.get();
  CHECK(failed.status == HandleResult::Status::failed);
  CHECK(failed.error.find("boom") != std::string::npos);
  CHECK(three.get().ok());
  CHECK(runtime->load<counter::State>("counter-f").total == 6);
  CHECK(runtime->store().read_stream("counter-f").size() == 6);
}

TEST_CASE("a batch that meets another writer's append goes back to one command at a time, and every command lands") {
  auto config = test_config();
  Turnstile turnstile(config, 2);
  auto runtime = counter_runtime(config);
  auto first = turnstile.hold_first(*runtime, "counter-w");
  auto second = runtime->handle_async("counter-w", counter::Increment{2});
  auto third = runtime->handle_async("counter-w", counter::Increment{3});
  CHECK(testing::eventually([&] { return queued_commands(*runtime) == 3; }));
  turnstile.open[0].set_value();
  CHECK(first.get().ok());
  CHECK(testing::eventually([&] { return turnstile.store->calls.load() == 2; }));  // the batch, held
  // Another process appends to the stream meanwhile: the batch's expected seq is gone.
  turnstile.store->append_elsewhere("counter-w", make_message("counter-w", "counter.incremented", Json{{"by", 100}}, {}, 2));
  turnstile.open[1].set_value();
  auto two = second.get(), three = third.get();
  REQUIRE(two.ok());
  REQUIRE(three.ok());
  // After the other writer's event (seq 3), each after its own command, in the order they came.
  CHECK(std::set<int64_t>{two.events[0].seq, three.events[0].seq} == std::set<int64_t>{5, 7});
  auto state = runtime->load<counter::State>("counter-w");
  CHECK(state.total == 106);
  CHECK(state.count == 4);
}

TEST_CASE("a rejection appends nothing; a throwing decide is an error and the actor keeps serving") {
  auto runtime = counter_runtime();
  auto rejected = runtime->handle("counter-r", counter::Increment{-3});
  CHECK(rejected.status == HandleResult::Status::rejected);
  CHECK(rejected.rejection_code == "not_positive");
  CHECK(rejected.error == "by must be positive, got -3");
  CHECK(runtime->store().head_seq("counter-r") == 0);
  auto failed = runtime->handle("counter-r", counter::Fail{});
  CHECK(failed.status == HandleResult::Status::failed);
  CHECK(failed.error.find("boom") != std::string::npos);
  CHECK(runtime->store().head_seq("counter-r") == 0);
  CHECK(runtime->handle("counter-r", counter::Increment{2}).ok());
  CHECK(runtime->load<counter::State>("counter-r").total == 2);
}

TEST_CASE("a Multi decision through the runtime: its events in one append, each decided on the state before it") {
  auto runtime = std::make_unique<Runtime>(test_config());
  std::atomic<int> discounts{0};
  auto granted = side_effect("dcart.discounts");
  granted->on<discount_cart::DiscountGranted>([&](const discount_cart::DiscountGranted&, const Message&) { ++discounts; });
  runtime->add(discount_cart::actor()).add(granted);  // an actor and a consumer
  runtime->start_consumers(testing::quiet_workers({"dcart.discounts"}));

  REQUIRE(runtime->handle("dcart-1", discount_cart::AddItem{"tea", 6000}).ok());
  // The typed handle_async: metadata and trace as for handle.
  auto crossed = runtime->handle_async("dcart-1", discount_cart::AddItem{"cake", 5000}, {{"user", "ann"}}, Trace{"web-7"});
  auto result = crossed.get();
  REQUIRE(result.ok());
  REQUIRE(result.events.size() == 2);
  CHECK(result.events[0].type == "discount_cart.item_added");
  CHECK(result.events[1].type == "discount_cart.discount_granted");
  CHECK(result.events[1].payload == Json{{"percent", 10}});
  CHECK(result.seq == 5);
  auto stored = runtime->store().read_stream("dcart-1");
  REQUIRE(stored.size() == 5);
  CHECK(stored[2].type == "discount_cart.add_item");
  CHECK(stored[2].metadata["user"] == "ann");
  CHECK(stored[4].metadata["correlation_id"] == "web-7");
  CHECK(runtime->load<discount_cart::Cart>("dcart-1").discount_percent == 10);

  // A rule that reads the state after the item refuses it: nothing of the decision is stored.
  auto refused = runtime->handle("dcart-1", discount_cart::AddItem{"tv", 90000});
  CHECK(refused.status == HandleResult::Status::rejected);
  CHECK(refused.rejection_code == "over_limit");
  CHECK(refused.error == "the total would be 101000");
  CHECK(refused.events.empty());
  CHECK(runtime->store().head_seq("dcart-1") == 5);
  CHECK(runtime->load<discount_cart::Cart>("dcart-1").total_cents == 11000);
  CHECK(testing::eventually([&] { return discounts.load() == 1; }));
}

TEST_CASE("bad commands get clear errors: unknown type, wrong payload, unowned or hostile stream") {
  auto runtime = counter_runtime();
  auto unknown = runtime->handle("counter-b", make_message("counter-b", "counter.explode", Json::object()));
  CHECK(unknown.status == HandleResult::Status::invalid);
  CHECK(unknown.error.find("no decide for counter.explode") != std::string::npos);
  auto wrong = runtime->handle("counter-b", make_message("counter-b", "counter.increment", {{"by", "lots"}}));
  CHECK(wrong.status == HandleResult::Status::invalid);
  CHECK(wrong.error.find("field 'by'") != std::string::npos);
  auto missing = runtime->handle("counter-b", make_message("counter-b", "counter.slow", Json::object()));
  CHECK(missing.status == HandleResult::Status::invalid);
  CHECK(missing.error.find("missing field 'ms'") != std::string::npos);
  CHECK(runtime->handle("nobody-1", counter::Increment{1}).status == HandleResult::Status::invalid);
  CHECK(runtime->handle("counter-\n", counter::Increment{1}).status == HandleResult::Status::invalid);
  auto huge = runtime->handle("counter-b", make_message("counter-b", "counter.increment",
                                                        {{"by", 1}, {"pad", std::string(2 << 20, 'x')}}));
  CHECK(huge.status == HandleResult::Status::invalid);
  // JSON built in C++ that no store could write, or that is nested past the limit (100,000 levels:
  // copying or printing it would overflow the stack): refused before anything copies it.
  Json deep = {{"by", 1}};
  Json* at = &deep;
  for (int i = 0; i < 100000; ++i) at = &((*at)["d"] = Json::object());
  auto nested = runtime->handle("counter-b", make_message("counter-b", "counter.increment", std::move(deep)));
  CHECK(nested.status == HandleResult::Status::invalid);
  CHECK(nested.error.find("nested deeper than 64 levels") != std::string::npos);
  auto latin1 = runtime->handle("counter-b", make_message("counter-b", "counter.increment",
                                                          {{"by", 1}, {"note", std::string("caf\xe9")}}));
  CHECK(latin1.status == HandleResult::Status::invalid);
  CHECK(latin1.error.find("not valid UTF-8") != std::string::npos);
  CHECK(runtime->store().head_seq("counter-b") == 0);
  CHECK(runtime->handle("counter-b", counter::Increment{1}).ok());
  CHECK_THROWS_AS(runtime->dispatch("counter-b", make_message("counter-b", "counter.increment", {{"by", "x"}})),
                  BadInput);
  CHECK_THROWS_AS(runtime->dispatch("counter-b", make_message("counter-b", "counter.increment",
                                                              {{"by", 1}, {"k", std::string("\xff")}})),
                  BadInput);
  CHECK(runtime->store().head_seq("counter-b") == 2);
}

TEST_CASE("passivation then rehydration gives identical state") {
  auto config = test_config();
  config.max_live_actors = 2;
  auto runtime = counter_runtime(config);
  for (int round = 0; round < 3; ++round)
    for (int s = 0; s < 5; ++s)
      REQUIRE(runtime->handle("counter-p" + std::to_string(s), counter::Increment{s + 1}).ok());
  CHECK(runtime->live_actors() <= 2);
  for (int s = 0; s < 5; ++s) {
    auto state = runtime->load<counter::State>("counter-p" + std::to_string(s));
    CHECK(state.total == 3 * (s + 1));
    CHECK(state.count == 3);
  }

  auto idle = test_config();
  idle.idle_timeout = std::chrono::milliseconds(20);
  auto quick = counter_runtime(idle);
  REQUIRE(quick->handle("counter-idle", counter::Increment{4}).ok());
  for (int i = 0; i < 200 && quick->live_actors() > 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  CHECK(quick->live_actors() == 0);
  auto again = quick->handle("counter-idle", counter::Increment{4});
  REQUIRE(again.ok());
  CHECK(again.seq == 4);
  CHECK(quick->load<counter::State>("counter-idle").total == 8);
}

// Commands for a live stream go straight to its actor, the rest through the supervisor, which
// spawns and passivates actors all the while here (two live at most, 16 streams): one thread's
// commands to a stream are still decided in the order it sent them.
TEST_CASE("one caller's commands to a stream keep their order while its actor is spawned, passivated and respawned") {
  auto config = test_config();
  config.max_live_actors = 2;
  auto runtime = counter_runtime(config);
  std::vector<std::pair<std::string, std::future<HandleResult>>> sent;
  for (int round = 0; round < 20; ++round)
    for (int s = 0; s < 16; ++s) {
      auto stream = "counter-order-" + std::to_string(s);
      sent.emplace_back(stream, runtime->handle_async(stream, counter::Increment{1}));
    }
  std::map<std::string, int64_t> last_seq;
  int in_order = 0;
  for (auto& [stream, future] : sent) {
    auto result = future.get();
    REQUIRE(result.ok());
    in_order += result.seq > last_seq[stream];
    last_seq[stream] = result.seq;
  }
  CHECK(in_order == 320);
  CHECK(runtime->live_actors() <= 2);
}

// A command sent straight to a live actor bypasses the supervisor, which must still count it as use.
TEST_CASE("an actor used only through direct sends is not passivated as idle") {
  auto config = test_config();
  config.idle_timeout = std::chrono::milliseconds(300);
  auto runtime = counter_runtime(config);
  auto passivations = [&] { return metric(*runtime, "cairn_stream_actor_passivations_total"); };
  for (int i = 0; i < 30; ++i) {  // ~1.5 s, five idle timeouts, one command every 50 ms
    REQUIRE(runtime->handle("counter-busy", counter::Increment{1}).ok());
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  CHECK(passivations() == 0);
  CHECK(testing::eventually([&] { return runtime->live_actors() == 0; }));  // idle now: it goes
  CHECK(passivations() == 1);
}

TEST_CASE("snapshots: the snapshot path equals a full replay; a changed state revision ignores old snapshots") {
  auto url = fresh_backend_url();
  Config config;
  config.database_url = url;
  auto runtime = counter_runtime(config, 10, 1);
  for (int i = 1; i <= 30; ++i) REQUIRE(runtime->handle("counter-s", counter::Increment{i}).ok());
  auto snapshot = runtime->store().load_snapshot("counter-s");
  REQUIRE(snapshot.has_value());
  CHECK(snapshot->seq == 60);
  CHECK(snapshot->state == Json{{"total", 465}, {"count", 30}});
  auto with_snapshot = runtime->load<counter::State>("counter-s");
  auto full_replay = runtime->load<counter::State>("counter-s", {0, 1000, std::nullopt});
  CHECK(with_snapshot.total == full_replay.total);
  CHECK(with_snapshot.count == full_replay.count);

  // A snapshot whose state revision no longer matches must not be used: poison it to prove it.
  runtime->store().save_snapshot({"counter-s", 60, 1, {{"total", -1}, {"count", -1}}});
  CHECK(runtime->load<counter::State>("counter-s").total == -1);
  if (url.empty()) return;  // the memory store lives in its runtime; the rest needs a shared database
  runtime.reset();
  config.database_url = url;
  auto revised = counter_runtime(config, 10, 2);
  CHECK(revised->load<counter::State>("counter-s").total == 465);
  REQUIRE(revised->handle("counter-s", counter::Increment{1}).ok());
  CHECK(revised->load<counter::State>("counter-s").total == 466);
}

TEST_CASE("time travel and what-if") {
  auto runtime = counter_runtime();
  for (int i = 1; i <= 3; ++i) REQUIRE(runtime->handle("counter-t", counter::Increment{10 * i}).ok());
  CHECK(runtime->load<counter::State>("counter-t", {0, 2, std::nullopt}).total == 10);
  CHECK(runtime->load<counter::State>("counter-t", {0, 4, std::nullopt}).total == 30);
  CHECK(runtime->load<counter::State>("counter-t", {0, 1, std::nullopt}).total == 0);
  auto stored = runtime->store().read_stream("counter-t");
  CHECK(runtime->load<counter::State>("counter-t", {0, std::nullopt, stored[3].created_at}).total == 30);
  CHECK(runtime->load<counter::State>("counter-t", {0, std::nullopt, stored[0].created_at - std::chrono::seconds(1)})
            .total == 0);

  auto hypothetical = runtime->what_if<counter::State>(
      "counter-t", {Draft::of(counter::Incremented{100}), Draft::of(counter::Incremented{1})});
  CHECK(hypothetical.total == 161);
  CHECK(hypothetical.count == 5);
  CHECK(runtime->store().head_seq("counter-t") == 6);
  CHECK(runtime->load<counter::State>("counter-t").total == 60);
}

TEST_CASE("a slow decide on stream A does not delay stream B") {
  auto runtime = counter_runtime();
  auto slow = runtime->handle_async("counter-slow", counter::Slow{1500});
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  for (int i = 0; i < 5; ++i) REQUIRE(runtime->handle("counter-fast", counter::Increment{1}).ok());
  CHECK(slow.wait_for(std::chrono::seconds(0)) == std::future_status::timeout);
  CHECK(slow.get().ok());
}

TEST_CASE("stored revision-1 events are upcast on read") {
  auto runtime = counter_runtime();
  auto old = make_message("counter-u", "counter.incremented", {{"amount", 7}});
  old.revision = 1;
  runtime->store().append("counter-u", ExpectedSeq::exactly(0), {old});
  CHECK(runtime->load<counter::State>("counter-u").total == 7);
  auto result = runtime->handle("counter-u", counter::Increment{1});
  REQUIRE(result.ok());
  CHECK(result.seq == 3);
  CHECK(runtime->load<counter::State>("counter-u").total == 8);
  auto future = make_message("counter-u", "counter.incremented", {{"by", 1}});
  future.revision = 9;
  runtime->store().append("counter-u", ExpectedSeq::any(), {future});
  CHECK_THROWS_AS(runtime->load<counter::State>("counter-u"), BadInput);
}

TEST_CASE("dispatch stores the command durably, now or scheduled") {
  auto runtime = counter_runtime();
  auto id = runtime->dispatch("counter-d", counter::Increment{3});
  auto stored = runtime->store().read_stream("counter-d");
  REQUIRE(stored.size() == 1);
  CHECK(stored[0].id == id);
  CHECK(stored[0].type == "counter.increment");
  runtime->dispatch("counter-d", counter::Increment{4}, now() + std::chrono::hours(1));
  CHECK(runtime->store().head_seq("counter-d") == 1);
  CHECK(runtime->store().promote_due(now() + std::chrono::hours(2), 10).appended.size() == 1);
  CHECK(runtime->store().head_seq("counter-d") == 2);
}

TEST_CASE("shutdown waits for commands in flight, then refuses new ones") {
  auto runtime = counter_runtime();
  auto slow = runtime->handle_async("counter-sd", counter::Slow{300});
  std::this_thread::sleep_for(std::chrono::milliseconds(30));
  runtime->shutdown();
  CHECK(slow.wait_for(std::chrono::seconds(0)) == std::future_status::ready);
  CHECK(slow.get().ok());
  CHECK(runtime->store().head_seq("counter-sd") == 2);
  CHECK_THROWS(runtime->handle("counter-sd", counter::Increment{1}));
}

TEST_CASE("consumer groups on this backend: reactions and dispatched commands flow; side effects skip replays") {
  auto runtime = std::make_unique<Runtime>(test_config());
  counter::install(runtime->app());
  std::atomic<int> effects{0};
  auto handler = side_effect("counter.seen");
  handler->on<counter::Incremented>([&](const counter::Incremented&, const Message&) { ++effects; });
  runtime->add(handler);
  runtime->start_consumers(testing::quiet_workers());

  auto big = runtime->handle("counter-react", counter::Increment{150});
  REQUIRE(big.ok());
  auto dispatched = runtime->dispatch("counter-queued", counter::Increment{2});
  auto eventually = [](auto predicate) {
    for (int i = 0; i < 1000 && !predicate(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    return predicate();
  };
  CHECK(eventually([&] { return runtime->store().head_seq("counter-react-echo") == 2; }));
  CHECK(eventually([&] { return runtime->store().head_seq("counter-queued") == 2; }));
  CHECK(runtime->store().read_stream("counter-queued")[1].metadata["causation_id"] == dispatched);
  CHECK(runtime->load<counter::State>("counter-queued").total == 2);
  CHECK(eventually([&] { return effects.load() == 3; }));  // 150, the echo's 1, and 2

  runtime->reset_group("counter.seen");  // while its runner is live: it gives up its slices for the reset
  CHECK(eventually([&] {
    long lag = 0;
    for (const auto& s : runtime->store().slice_status("counter.seen")) lag += s.lag_events;
    return lag == 0;
  }));
  CHECK(effects.load() == 3);
  REQUIRE(runtime->handle("counter-react", counter::Increment{1}).ok());
  CHECK(eventually([&] { return effects.load() == 4; }));
  runtime->shutdown();
}

namespace {
struct ParityView {
  long total = 0;
  long events = 0;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(ParityView, total, events)
}  // namespace

TEST_CASE("a state-stored projector keyed by something else than the stream stays exact under concurrency") {
  auto runtime = std::make_unique<Runtime>(test_config());
  counter::install(runtime->app());
  auto parity = state_projector<ParityView>("counter.by_parity");
  parity->on<counter::Incremented>(
      [](const counter::Incremented& e, const Message&) { return std::string(e.by % 2 ? "odd" : "even"); },
      [](ParityView& view, const counter::Incremented& e, const Message&) {
        view.total += e.by;
        view.events += 1;
      });
  runtime->add(parity);
  runtime->start_consumers(testing::quiet_workers());
  std::vector<std::thread> writers;
  for (int w = 0; w < 4; ++w)
    writers.emplace_back([&, w] {
      for (int i = 1; i <= 25; ++i)
        REQUIRE(runtime->handle("counter-p" + std::to_string((w * 25 + i) % 8), counter::Increment{i}).ok());
    });
  for (auto& t : writers) t.join();
  // 4 writers x (13 odd values summing 169, 12 even values summing 156)
  auto settled = [&] {
    for (int i = 0; i < 1000; ++i) {
      auto odd = runtime->projection<ParityView>("counter.by_parity", "odd");
      auto even = runtime->projection<ParityView>("counter.by_parity", "even");
      if (odd && even && odd->events == 52 && even->events == 48) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
  };
  REQUIRE(settled());
  CHECK(runtime->projection<ParityView>("counter.by_parity", "odd")->total == 4 * 169);
  CHECK(runtime->projection<ParityView>("counter.by_parity", "even")->total == 4 * 156);

  runtime->store().set_group_active("counter.by_parity", false);  // stays stopped after the reset: we look at the empty view
  runtime->reset_group("counter.by_parity");
  CHECK_FALSE(runtime->projection<ParityView>("counter.by_parity", "odd").has_value());
  runtime->store().set_group_active("counter.by_parity", true);
  REQUIRE(settled());
  CHECK(runtime->projection<ParityView>("counter.by_parity", "odd")->total == 4 * 169);
  runtime->shutdown();
}

TEST_CASE("a state-stored projector's evolve can drop its key; a later event starts the key afresh") {
  auto runtime = counter_runtime();
  // The increments of each stream until they reach 10: then the key leaves the read model.
  auto open = state_projector<ParityView>("counter.open");
  open->on<counter::Incremented>([](const counter::Incremented&, const Message& m) { return m.stream_id; },
                                 [](ParityView& view, const counter::Incremented& e, const Message&) {
                                   view.total += e.by;
                                   view.events += 1;
                                   return view.total >= 10 ? drop_key : keep_key;
                                 });
  runtime->add(open);
  runtime->start_consumers(testing::quiet_workers());
  auto handled = [&](const std::string& stream, int by) {
    auto result = runtime->handle(stream, counter::Increment{by});
    REQUIRE(result.ok());
    REQUIRE(runtime->wait_for("counter.open", stream, result.seq));
  };
  handled("counter-open1", 4);
  handled("counter-open2", 3);
  CHECK(runtime->projection<ParityView>("counter.open", "counter-open1")->total == 4);
  handled("counter-open1", 6);
  CHECK_FALSE(runtime->projection<ParityView>("counter.open", "counter-open1").has_value());
  CHECK(runtime->store().list_projections("counter.open", "", 10).size() == 1);  // counter-open2 only
  handled("counter-open1", 1);
  auto again = runtime->projection<ParityView>("counter.open", "counter-open1");
  REQUIRE(again.has_value());
  CHECK(again->total == 1);
  CHECK(again->events == 1);
  runtime->shutdown();
}

namespace {
struct Tally {
  long total = 0;
  long events = 0;
  int64_t last_seq = 0;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Tally, total, events, last_seq)
}  // namespace

TEST_CASE("an event-sourced projector's view of each stream is the fold of its history, upcast, and rebuilt on reset") {
  auto runtime = counter_runtime();
  auto old = make_message("counter-es0", "counter.incremented", {{"amount", 7}});
  old.revision = 1;  // stored before `amount` became `by`
  runtime->store().append("counter-es0", ExpectedSeq::exactly(0), {old});
  auto tally = stream_projector<Tally>("counter.tally");
  tally->on<counter::Incremented>([](Tally& view, const counter::Incremented& e, const Message& m) {
    view.total += e.by;
    view.events += 1;
    view.last_seq = m.seq;
  });
  runtime->add(tally);
  runtime->start_consumers(testing::quiet_workers());
  std::vector<std::thread> writers;
  for (int w = 0; w < 4; ++w)
    writers.emplace_back([&, w] {
      for (int i = 1; i <= 20; ++i) REQUIRE(runtime->handle("counter-es" + std::to_string(w), counter::Increment{i}).ok());
    });
  for (auto& t : writers) t.join();

  auto matches_log = [&] {
    for (int w = 0; w < 4; ++w) {
      auto stream = "counter-es" + std::to_string(w);
      auto view = runtime->projection<Tally>("counter.tally", stream);
      auto state = runtime->load<counter::State>(stream);
      if (!view || view->total != state.total || view->events != state.count ||
          view->last_seq != runtime->store().head_seq(stream))
        return false;
    }
    return true;
  };
  REQUIRE(testing::eventually(matches_log));
  CHECK(runtime->projection<Tally>("counter.tally", "counter-es0")->total == 7 + 210);

  runtime->store().set_group_active("counter.tally", false);  // stays stopped after the reset: we look at the empty view
  runtime->reset_group("counter.tally");
  CHECK_FALSE(runtime->projection<Tally>("counter.tally", "counter-es1").has_value());
  runtime->store().set_group_active("counter.tally", true);
  CHECK(testing::eventually(matches_log));
  runtime->shutdown();
}
