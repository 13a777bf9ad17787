// A consumer group runner whose lease session drops while streams' events are in its handlers, on
// the backend under test: every event is still handled exactly once, in seq order.
#include <doctest/doctest.h>

#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include <cairn/runtime.hpp>
#include <cairn/validation.hpp>
#include "tests/support/counter_actor.hpp"
#include "tests/support/eventually.hpp"
#include "tests/support/faulty_store.hpp"
#include "tests/support/runtimes.hpp"
#include "tests/support/seqs_text.hpp"

using namespace cairn;
using cairn::testing::eventually;
using namespace std::chrono_literals;

namespace {

// Leases whose session the test can drop. Like PostgreSQL's lease session, a dropped lease still
// answers alive() for up to a second (the session is checked with the server at most that
// often), or until this process takes a lease again (on a new session, which retires the old one).
class DroppingLeases final : public testing::ForwardingStore {
 public:
  using ForwardingStore::ForwardingStore;

  std::unique_ptr<SliceLease> try_lease_slice(const std::string& group_id, uint32_t slice,
                                              const std::string& owner) override {
    auto taken = inner().try_lease_slice(group_id, slice, owner);
    if (!taken) return nullptr;
    std::lock_guard lock(state_->mutex);
    if (state_->dropped) {  // taken on a new session
      ++state_->session;
      state_->dropped = false;
    }
    auto lease = std::make_unique<Lease>(std::move(taken), state_);
    state_->leases.insert(lease.get());
    return lease;
  }

  // The server ended the session: every lease on it is free for the taking.
  void drop_session() {
    std::lock_guard lock(state_->mutex);
    for (auto* lease : state_->leases) lease->inner.reset();
    state_->dropped = true;
    state_->dropped_at = std::chrono::steady_clock::now();
  }

 private:
  struct State;
  struct Lease final : SliceLease {
    Lease(std::unique_ptr<SliceLease> taken, std::shared_ptr<State> shared)
        : SliceLease(taken->fence()), inner(std::move(taken)), state(std::move(shared)), session(state->session) {}
    ~Lease() override {
      std::lock_guard lock(state->mutex);
      state->leases.erase(this);
      inner.reset();
    }
    bool alive() override {
      std::lock_guard lock(state->mutex);
      if (inner) return inner->alive();
      return session == state->session && std::chrono::steady_clock::now() - state->dropped_at < 1s;
    }
    void free_when_silent(std::chrono::milliseconds silence) override {
      std::lock_guard lock(state->mutex);
      if (inner) inner->free_when_silent(silence);
    }
    std::unique_ptr<SliceLease> inner;
    std::shared_ptr<State> state;
    uint64_t session;
  };
  struct State {
    std::mutex mutex;
    std::set<Lease*> leases;
    uint64_t session = 0;  // the session's incarnation
    bool dropped = false;
    std::chrono::steady_clock::time_point dropped_at;
  };
  std::shared_ptr<State> state_ = std::make_shared<State>();
};

// Records every event whose mark it wrote, under the lease it was handed; the first event of each
// stream waits at a gate until the test opens it.
class GatedJournal final : public Consumer {
 public:
  GatedJournal() {
    options_.group = "counter.gated";
    options_.types = {"counter.incremented"};
    options_.slice_count = 2;
  }
  const ConsumerOptions& options() const override { return options_; }
  bool records_progress() const override { return true; }

  void handle(Store& store, ConsumerServices&, const Message& event, const Delivery& delivery) override {
    {
      std::unique_lock lock(mutex_);
      if (!seen_.count(event.stream_id)) {
        seen_.insert(event.stream_id);
        ++waiting_;
        changed_.notify_all();
        changed_.wait(lock, [&] { return open_.count(event.stream_id) > 0; });
      }
    }
    store.mark_handled(delivery.mark(options_.group, event));  // throws LeaseLost under a lost lease
    std::lock_guard lock(mutex_);
    seqs_[event.stream_id].push_back(event.seq);
  }

  bool waiting(size_t n) {
    std::lock_guard lock(mutex_);
    return waiting_ >= n;
  }
  void open(const std::string& stream) {
    std::lock_guard lock(mutex_);
    open_.insert(stream);
    changed_.notify_all();
  }
  std::vector<int64_t> seqs(const std::string& stream) {
    std::lock_guard lock(mutex_);
    return seqs_[stream];
  }

 private:
  ConsumerOptions options_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::set<std::string> seen_, open_;
  size_t waiting_ = 0;
  std::map<std::string, std::vector<int64_t>> seqs_;
};

// A stream of the given slice (of two).
std::string stream_in_slice(uint32_t slice) {
  for (int i = 0;; ++i) {
    auto id = "counter-lease-" + std::to_string(i);
    if (stream_hash(id) % 2 == slice) return id;
  }
}

int64_t increment(Runtime& runtime, const std::string& stream) {
  auto result = runtime.handle(stream, counter::Increment{1});
  REQUIRE(result.ok());
  return result.seq;
}

}  // namespace

// Seen under ASan in the integration test of terminated sessions: the runner took its own slices
// again while their old leases' events were still in its handlers, and a stream's later events
// were handled first, its first ones never.
TEST_CASE("a lease session that drops while events are in the handlers loses none of them, and reorders none") {
  DroppingLeases* store = nullptr;
  auto owned = testing::wrapped_runtime(store);
  auto& runtime = *owned;
  counter::install(runtime.app());
  auto journal = std::make_shared<GatedJournal>();
  runtime.add(journal);
  runtime.start_consumers(testing::quiet_workers({"counter.gated"}));

  const std::vector<std::string> streams = {stream_in_slice(0), stream_in_slice(1)};
  std::map<std::string, std::vector<int64_t>> expected;
  for (const auto& s : streams) expected[s].push_back(increment(runtime, s));
  REQUIRE(eventually([&] { return journal->waiting(2); }));  // one handler holds each stream
  for (const auto& s : streams)
    for (int i = 0; i < 2; ++i) expected[s].push_back(increment(runtime, s));
  std::this_thread::sleep_for(100ms);  // the runner reads them while the streams are busy

  store->drop_session();
  // For up to a second the dropped leases still look alive while the census shows their slices
  // free: the window in which the runner once took its own slices again.
  std::this_thread::sleep_for(500ms);
  journal->open(streams[1]);
  std::this_thread::sleep_for(200ms);  // its lease's failure reaches the runner first
  journal->open(streams[0]);

  for (const auto& s : streams) {
    CHECK(eventually([&] { return journal->seqs(s).size() >= expected[s].size(); }, 10s));
    std::this_thread::sleep_for(100ms);  // a repeat would come now
    INFO(s, ": handled ", testing::seqs_text(journal->seqs(s)), ", expected ", testing::seqs_text(expected[s]));
    CHECK(journal->seqs(s) == expected[s]);
  }
  runtime.shutdown();
}
