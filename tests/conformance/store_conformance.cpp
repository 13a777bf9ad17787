// The Store conformance suite: every backend must pass every case here.
#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <limits>
#include <map>
#include <set>
#include <thread>

#include <cairn/errors.hpp>
#include "tests/support/backend.hpp"

using namespace cairn;
using cairn::testing::fresh_store;

namespace {

Message msg(const std::string& stream, const std::string& type = "test.happened", Json payload = Json::object()) {
  return make_message(stream, type, std::move(payload));
}

std::vector<Message> msgs(const std::string& stream, int n) {
  std::vector<Message> out;
  for (int i = 0; i < n; ++i) out.push_back(msg(stream, "test.counted", {{"n", i}}));
  return out;
}

// Reads the feed from the start until `expected` entries arrived (or 10 s passed). The feed may
// lag behind a commit while any other transaction in the cluster is open (other test binaries
// run concurrently), so a test waits for what it knows was committed, then checks exactly.
std::vector<FeedEntry> whole_feed(Store& store, size_t expected, const FeedFilter& filter = {}) {
  std::vector<FeedEntry> all;
  FeedCursor cursor;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  for (;;) {
    auto page = store.read_feed(cursor, 7, filter);
    if (page.empty()) {
      if (all.size() >= expected || std::chrono::steady_clock::now() > deadline) return all;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
      continue;
    }
    cursor = page.back().cursor;
    all.insert(all.end(), page.begin(), page.end());
  }
}

}  // namespace

TEST_SUITE("conformance") {
  TEST_CASE("append assigns seqs and positions; read_stream returns them in order") {
    auto store = fresh_store();
    auto first = store->append("cart-1", ExpectedSeq::exactly(0), msgs("cart-1", 2));
    auto second = store->append("cart-1", ExpectedSeq::any(), msgs("cart-1", 1));
    REQUIRE(first.size() == 2);
    CHECK(first[0].seq == 1);
    CHECK(first[1].seq == 2);
    CHECK(second[0].seq == 3);
    CHECK(first[0].position < first[1].position);
    CHECK(first[1].position < second[0].position);
    CHECK(store->head_seq("cart-1") == 3);
    CHECK(store->head_seq("cart-unknown") == 0);
    auto read = store->read_stream("cart-1");
    REQUIRE(read.size() == 3);
    for (int i = 0; i < 3; ++i) {
      CHECK(read[i].seq == i + 1);
      CHECK(read[i].payload == Json{{"n", i < 2 ? i : 0}});
      CHECK(read[i].type == "test.counted");
      CHECK(read[i].stream_id == "cart-1");
      CHECK(read[i].created_at.time_since_epoch().count() > 0);
    }
    CHECK(read[0].id == first[0].id);
    CHECK(read[2].position == second[0].position);
  }

  TEST_CASE("a wrong expected seq is a conflict carrying the actual head, and writes nothing") {
    auto store = fresh_store();
    store->append("acct-1", ExpectedSeq::exactly(0), msgs("acct-1", 3));
    try {
      store->append("acct-1", ExpectedSeq::exactly(1), msgs("acct-1", 1));
      FAIL("expected a conflict");
    } catch (const ConcurrencyConflict& e) {
      CHECK(e.expected() == 1);
      CHECK(e.actual() == 3);
      CHECK(e.stream() == "acct-1");
      CHECK(std::string(e.what()).find("expected seq 1, stream is at 3") != std::string::npos);
    }
    CHECK_THROWS_AS(store->append("acct-1", ExpectedSeq::exactly(0), msgs("acct-1", 1)), ConcurrencyConflict);
    CHECK_THROWS_AS(store->append("acct-new", ExpectedSeq::exactly(2), msgs("acct-new", 1)), ConcurrencyConflict);
    CHECK(store->head_seq("acct-1") == 3);
    CHECK(store->head_seq("acct-new") == 0);
    CHECK(whole_feed(*store, 3).size() == 3);
    CHECK(store->append("acct-1", ExpectedSeq::exactly(3), msgs("acct-1", 1))[0].seq == 4);
  }

  TEST_CASE("re-appending the same messages is an idempotent success; the same id elsewhere is an error") {
    auto store = fresh_store();
    auto batch = msgs("order-1", 2);
    auto stored = store->append("order-1", ExpectedSeq::exactly(0), batch);
    auto again = store->append("order-1", ExpectedSeq::exactly(0), batch);
    REQUIRE(again.size() == 2);
    CHECK(again[0].seq == stored[0].seq);
    CHECK(again[1].position == stored[1].position);
    CHECK(store->append("order-1", ExpectedSeq::any(), batch)[1].seq == 2);
    CHECK(store->head_seq("order-1") == 2);
    CHECK(whole_feed(*store, 2).size() == 2);

    store->append("order-1", ExpectedSeq::any(), msgs("order-1", 1));
    CHECK_THROWS_AS(store->append("order-1", ExpectedSeq::exactly(3), {batch[0]}), BadInput);
    auto moved = batch[1];
    moved.stream_id = "order-2";
    CHECK_THROWS_AS(store->append("order-2", ExpectedSeq::any(), {moved}), BadInput);
    CHECK_THROWS_AS(store->append("order-2", ExpectedSeq::exactly(0), {moved}), BadInput);
    auto mixed = msgs("order-1", 1);
    mixed.push_back(batch[0]);
    CHECK_THROWS_AS(store->append("order-1", ExpectedSeq::any(), mixed), BadInput);
    CHECK(store->head_seq("order-1") == 3);
    CHECK(store->head_seq("order-2") == 0);
  }

  TEST_CASE("append_under_lock decides on what the stream holds after a seq; none writes nothing") {
    auto store = fresh_store();
    store->append("locked-1", ExpectedSeq::exactly(0), msgs("locked-1", 3));
    using Decided = std::optional<AppendRequest>;
    std::vector<int64_t> seen;
    auto none = store->append_under_lock("locked-1", 1, [&](const std::vector<Message>& newer) -> Decided {
      for (const auto& m : newer) seen.push_back(m.seq);
      return std::nullopt;
    });
    CHECK_FALSE(none);
    CHECK(seen == std::vector<int64_t>{2, 3});
    CHECK(store->head_seq("locked-1") == 3);

    auto outcome = store->append_under_lock("locked-1", 3, [&](const std::vector<Message>& newer) -> Decided {
      CHECK(newer.empty());
      return AppendRequest{"locked-1", ExpectedSeq::exactly(3), msgs("locked-1", 2)};
    });
    REQUIRE(outcome);
    CHECK(outcome->status == AppendOutcome::Status::appended);
    CHECK(outcome->messages.back().seq == 5);
    CHECK(store->read_stream("locked-1").size() == 5);

    auto invalid = store->append_under_lock("locked-1", 5, [&](const std::vector<Message>&) -> Decided {
      return AppendRequest{"locked-1", ExpectedSeq::exactly(5), {}};
    });
    REQUIRE(invalid);
    CHECK(invalid->status == AppendOutcome::Status::invalid);
    CHECK(store->head_seq("locked-1") == 5);
    CHECK_THROWS_AS(store->append_under_lock("", 0, [&](const std::vector<Message>&) -> Decided { return {}; }),
                    BadInput);
  }

  TEST_CASE("append_many checks each stream on its own") {
    auto store = fresh_store();
    store->append("s-conflict", ExpectedSeq::exactly(0), msgs("s-conflict", 1));
    std::vector<AppendRequest> requests;
    requests.push_back({"s-ok", ExpectedSeq::exactly(0), msgs("s-ok", 2)});
    requests.push_back({"s-conflict", ExpectedSeq::exactly(0), msgs("s-conflict", 1)});
    requests.push_back({"", ExpectedSeq::any(), {}});
    requests.push_back({"s-ok-2", ExpectedSeq::any(), msgs("s-ok-2", 1)});
    requests.push_back({"s-ok", ExpectedSeq::exactly(2), msgs("s-ok", 1)});  // same stream again, after the first
    auto outcomes = store->append_many(requests);
    REQUIRE(outcomes.size() == 5);
    CHECK(outcomes[0].status == AppendOutcome::Status::appended);
    CHECK(outcomes[0].head_seq == 2);
    CHECK(outcomes[1].status == AppendOutcome::Status::conflict);
    CHECK(outcomes[1].head_seq == 1);
    CHECK(outcomes[2].status == AppendOutcome::Status::invalid);
    CHECK_FALSE(outcomes[2].error.empty());
    CHECK(outcomes[3].status == AppendOutcome::Status::appended);
    CHECK(outcomes[4].status == AppendOutcome::Status::appended);
    CHECK(outcomes[4].messages.at(0).seq == 3);
    CHECK(store->head_seq("s-ok") == 3);
    CHECK(store->head_seq("s-conflict") == 1);
    CHECK(store->head_seq("s-ok-2") == 1);
  }

  TEST_CASE("read_stream bounds: after, upto seq and upto time") {
    auto store = fresh_store();
    store->append("tt-1", ExpectedSeq::any(), msgs("tt-1", 3));
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    auto later = store->append("tt-1", ExpectedSeq::any(), msgs("tt-1", 2));
    CHECK(store->read_stream("tt-1", {2, std::nullopt, std::nullopt}).size() == 3);
    CHECK(store->read_stream("tt-1", {0, 2, std::nullopt}).size() == 2);
    CHECK(store->read_stream("tt-1", {1, 3, std::nullopt}).front().seq == 2);
    auto before_later = later.front().created_at - std::chrono::microseconds(1);
    auto upto_time = store->read_stream("tt-1", {0, std::nullopt, before_later});
    CHECK(upto_time.size() == 3);
    CHECK(store->read_stream("tt-1", {0, std::nullopt, later.front().created_at}).size() == 5);
    CHECK(store->read_stream("nothing-here").empty());
  }

  TEST_CASE("read_stream's limit gives the first messages of the range; for_each_message pages through all of it") {
    auto store = fresh_store();
    store->append("page-1", ExpectedSeq::any(), msgs("page-1", 7));
    auto first = store->read_stream("page-1", {2, 6, std::nullopt, 3});
    REQUIRE(first.size() == 3);
    CHECK(first.front().seq == 3);
    CHECK(first.back().seq == 5);
    CHECK(store->read_stream("page-1", {5, 6, std::nullopt, 3}).size() == 1);  // the range ends first
    CHECK(store->read_stream("page-1", {0, std::nullopt, std::nullopt, 0}).empty());
    auto seqs = [&](StreamRange range, size_t page) {
      std::vector<int64_t> out;
      for_each_message(*store, "page-1", range, [&](Message&& m) { out.push_back(m.seq); }, page);
      return out;
    };
    CHECK(seqs({}, 2) == std::vector<int64_t>{1, 2, 3, 4, 5, 6, 7});
    CHECK(seqs({}, 7) == std::vector<int64_t>{1, 2, 3, 4, 5, 6, 7});  // a full last page, then an empty one
    CHECK(seqs({1, 6, std::nullopt}, 2) == std::vector<int64_t>{2, 3, 4, 5, 6});
    CHECK(seqs({0, std::nullopt, std::nullopt, 3}, 2) == std::vector<int64_t>{1, 2, 3});
    CHECK(seqs({}, 1000).size() == 7);
    CHECK_THROWS_AS(seqs({}, 0), BadInput);
  }

  TEST_CASE("the feed returns every message once, in commit order, and continues after a cursor") {
    auto store = fresh_store();
    std::vector<std::string> ids;
    for (int i = 0; i < 10; ++i)
      for (auto& m : store->append("feed-" + std::to_string(i % 3), ExpectedSeq::any(), msgs("feed-" + std::to_string(i % 3), 2)))
        ids.push_back(m.id);
    auto all = whole_feed(*store, 20);
    REQUIRE(all.size() == ids.size());
    for (size_t i = 0; i < all.size(); ++i) CHECK(all[i].message.id == ids[i]);
    for (size_t i = 1; i < all.size(); ++i) CHECK(all[i - 1].cursor < all[i].cursor);
    auto cursor = FeedCursor::parse(all[4].cursor.str());
    CHECK(cursor == all[4].cursor);
    auto rest = store->read_feed(cursor, 1000);
    REQUIRE(rest.size() == all.size() - 5);
    CHECK(rest.front().message.id == all[5].message.id);
    CHECK(store->read_feed(all.back().cursor, 10).empty());
    CHECK(store->read_feed({}, 3).size() == 3);
    // A page knows where it ends before it is decoded, and decodes to the same entries.
    auto page = store->read_feed_page(cursor, 6, {});
    REQUIRE(page.size == 6);
    CHECK(page.last == all[10].cursor);
    auto decoded = page.decode();
    REQUIRE(decoded.size() == 6);
    for (size_t i = 0; i < decoded.size(); ++i) {
      CHECK(decoded[i].message.id == all[5 + i].message.id);
      CHECK(decoded[i].message.payload == all[5 + i].message.payload);
      CHECK(decoded[i].cursor == all[5 + i].cursor);
    }
    CHECK(store->read_feed_page(all.back().cursor, 10, {}).size == 0);
  }

  TEST_CASE("the feed filters by type and by slice; the slices partition the feed") {
    auto store = fresh_store();
    for (int i = 0; i < 40; ++i) {
      std::string stream = "slice-" + std::to_string(i);
      store->append(stream, ExpectedSeq::any(), {msg(stream, i % 2 ? "odd.happened" : "even.happened")});
    }
    auto odd = whole_feed(*store, 20, {{"odd.happened"}, 1, {}});
    CHECK(odd.size() == 20);
    for (const auto& e : odd) CHECK(e.message.type == "odd.happened");
    CHECK(whole_feed(*store, 40, {{"odd.happened", "even.happened"}, 1, {}}).size() == 40);
    CHECK(whole_feed(*store, 0, {{"none.happened"}, 1, {}}).empty());
    std::set<std::string> seen;
    size_t total = 0;
    for (uint32_t slice = 0; slice < 4; ++slice) {
      for (const auto& e : whole_feed(*store, 0, {{}, 4, {slice}})) {  // all 40 are visible by now
        CHECK(stream_hash(e.message.stream_id) % 4 == slice);
        seen.insert(e.message.id);
        ++total;
      }
    }
    CHECK(total == 40);
    CHECK(seen.size() == 40);
    // A process that owns several slices reads them at once, in feed order.
    auto two = whole_feed(*store, 0, {{}, 4, {1, 3}});
    CHECK(std::is_sorted(two.begin(), two.end(), [](auto& a, auto& b) { return a.cursor < b.cursor; }));
    size_t expected = 0;
    for (const auto& e : whole_feed(*store, 40)) expected += stream_hash(e.message.stream_id) % 4 % 2 == 1;
    CHECK(two.size() == expected);
    for (const auto& e : two) CHECK(stream_hash(e.message.stream_id) % 2 == 1);
  }

  TEST_CASE("read_correlation returns the causal trail in order") {
    auto store = fresh_store();
    auto command = msg("booking-1", "travel.start_booking");
    store->append("booking-1", ExpectedSeq::any(), {command});
    auto correlation = command.metadata["correlation_id"].get<std::string>();
    CHECK(correlation == command.id);
    auto event = make_message("booking-1", "travel.booking_started", Json::object(),
                              {{"correlation_id", correlation}, {"causation_id", command.id}});
    store->append("booking-1", ExpectedSeq::any(), {event});
    auto reaction = make_message("flight-1", "travel.book_flight", Json::object(),
                                 {{"correlation_id", correlation}, {"causation_id", event.id}});
    store->append("flight-1", ExpectedSeq::any(), {reaction});
    store->append("unrelated", ExpectedSeq::any(), msgs("unrelated", 2));
    auto trail = store->read_correlation(correlation);
    REQUIRE(trail.size() == 3);
    CHECK(trail[0].id == command.id);
    CHECK(trail[1].id == event.id);
    CHECK(trail[2].id == reaction.id);
    CHECK(trail[2].metadata["causation_id"] == event.id);
    CHECK(store->read_correlation(correlation, 2).back().id == event.id);  // the first two
    CHECK(store->read_correlation("no-such-correlation").empty());
    CHECK(store->find_message(event.id)->stream_id == "booking-1");
    CHECK_FALSE(store->find_message(new_uuid()).has_value());
  }

  TEST_CASE("snapshots: the latest is kept, an older one never replaces it") {
    auto store = fresh_store();
    CHECK_FALSE(store->load_snapshot("snap-1").has_value());
    store->save_snapshot({"snap-1", 50, 1, {{"balance", 50}}});
    store->save_snapshot({"snap-1", 100, 2, {{"balance", 100}}});
    store->save_snapshot({"snap-1", 70, 1, {{"balance", 70}}});
    auto snapshot = store->load_snapshot("snap-1");
    REQUIRE(snapshot.has_value());
    CHECK(snapshot->seq == 100);
    CHECK(snapshot->state_revision == 2);
    CHECK(snapshot->state == Json{{"balance", 100}});
    CHECK_FALSE(store->load_snapshot("snap-2").has_value());
  }

  TEST_CASE("scheduled messages enter their streams when due, once, even with two promoters") {
    auto store = fresh_store();
    auto t0 = now();
    store->schedule(msg("reminder-1", "test.remind"), t0 + std::chrono::hours(1));
    store->schedule(msg("reminder-1", "test.remind"), t0 - std::chrono::seconds(1));
    auto promoted = store->promote_due(t0, 100).appended;
    REQUIRE(promoted.size() == 1);
    CHECK(promoted[0].seq == 1);
    CHECK(store->promote_due(t0, 100).empty());
    CHECK(store->promote_due(t0 + std::chrono::hours(2), 100).appended.size() == 1);
    CHECK(store->head_seq("reminder-1") == 2);

    constexpr int count = 200;
    for (int i = 0; i < count; ++i) {
      std::string stream = "due-" + std::to_string(i % 17);
      store->schedule(msg(stream, "test.remind", {{"i", i}}), t0 - std::chrono::seconds(1));
    }
    std::atomic<int> appended{0};
    auto promoter = [&] {
      for (;;) {
        auto batch = store->promote_due(now(), 16);
        if (batch.empty()) return;
        appended += static_cast<int>(batch.appended.size());
      }
    };
    std::thread a(promoter), b(promoter);
    a.join();
    b.join();
    CHECK(appended.load() == count);
    std::set<int> seen;
    for (const auto& e : whole_feed(*store, count + 2, {{"test.remind"}, 1, {}}))
      if (e.message.stream_id.rfind("due-", 0) == 0) CHECK(seen.insert(e.message.payload["i"].get<int>()).second);
    CHECK(seen.size() == count);
  }

  TEST_CASE("the schedule summary counts the messages still to be delivered and names the next due") {
    auto store = fresh_store();
    CHECK(store->schedule_summary().pending == 0);
    CHECK_FALSE(store->schedule_summary().next_due.has_value());
    auto t0 = now();
    store->schedule(msg("summary-1", "test.remind"), t0 + std::chrono::hours(2));
    store->schedule(msg("summary-2", "test.remind"), t0 + std::chrono::hours(1));
    auto taken = msg("summary-3", "test.remind");
    store->append("summary-3", ExpectedSeq::exactly(0), {taken});
    taken.stream_id = "summary-4";  // its id is in summary-3: undeliverable once due
    store->schedule(taken, t0 - std::chrono::seconds(1));
    CHECK(store->schedule_summary().pending == 3);
    store->promote_due(t0, 100);
    auto summary = store->schedule_summary();
    CHECK(summary.pending == 2);  // the undeliverable one is listed apart (undeliverable_messages)
    CHECK(summary.next_due == t0 + std::chrono::hours(1));
  }

  TEST_CASE("scheduling an id that is already scheduled changes nothing") {
    auto store = fresh_store();
    auto first = msg("reminder-d", "test.remind", {{"n", 1}});
    auto again = first;
    again.payload = {{"n", 2}};
    auto t0 = now();
    store->schedule(first, t0 - std::chrono::seconds(2));
    store->schedule(again, t0 - std::chrono::seconds(1));
    CHECK(store->promote_due(t0 - std::chrono::milliseconds(1500), 100).appended.size() == 1);
    CHECK(store->promote_due(t0, 100).empty());  // the second was never scheduled
    auto stream = store->read_stream("reminder-d");
    REQUIRE(stream.size() == 1);
    CHECK(stream[0].payload["n"] == 1);
  }

  TEST_CASE("a due message that cannot be appended is kept as undeliverable, with its reason; the others go on") {
    auto store = fresh_store();
    auto taken = msg("kept-a", "test.remind");
    store->append("kept-a", ExpectedSeq::exactly(0), {taken});
    auto clash = taken;  // its id is already in kept-a
    clash.stream_id = "kept-b";
    auto due = now() - std::chrono::seconds(1);
    store->schedule(clash, due);
    store->schedule(msg("kept-b", "test.remind", {{"ok", true}}), due);
    auto round = store->promote_due(now(), 100);
    REQUIRE(round.appended.size() == 1);
    CHECK(round.appended[0].payload["ok"] == true);
    REQUIRE(round.undeliverable.size() == 1);
    CHECK(round.undeliverable[0].id == taken.id);
    CHECK(round.undeliverable[0].stream_id == "kept-b");
    CHECK(round.undeliverable[0].error.find(taken.id) != std::string::npos);
    CHECK(store->promote_due(now(), 100).empty());  // never promoted again
    auto kept = store->undeliverable_messages(10);
    REQUIRE(kept.size() == 1);
    CHECK(kept[0].id == taken.id);
    CHECK(kept[0].due == due);
    CHECK(kept[0].error == round.undeliverable[0].error);
    store->schedule(clash, now());  // its id is still taken in the schedule
    CHECK(store->promote_due(now(), 100).empty());
    CHECK(store->head_seq("kept-b") == 1);
  }

  TEST_CASE("correlation and causation ids are strings of at most 200 bytes; an odd one fails only its own append") {
    auto store = fresh_store();
    std::string huge;  // random hex: no compression brings it under the btree's limit
    while (huge.size() < 4000) huge += new_uuid();
    for (const char* key : {"correlation_id", "causation_id"}) {
      CAPTURE(key);
      auto odd = msg("trace-1");
      odd.metadata[key] = std::string(201, 'c');
      CHECK_THROWS_AS(store->append("trace-1", ExpectedSeq::any(), {odd}), BadInput);
      odd.metadata[key] = 42;
      CHECK_THROWS_AS(store->append("trace-1", ExpectedSeq::any(), {odd}), BadInput);
      CHECK_THROWS_AS(store->schedule(odd, now()), BadInput);
      odd.metadata[key] = std::string(200, 'c');
      CHECK(store->append("trace-1", ExpectedSeq::any(), {odd}).size() == 1);
    }
    auto hostile = msg("trace-2");
    hostile.metadata["correlation_id"] = huge;
    auto outcomes = store->append_many({{"trace-2", ExpectedSeq::any(), {hostile}},
                                        {"trace-3", ExpectedSeq::any(), {msg("trace-3")}}});
    REQUIRE(outcomes.size() == 2);
    CHECK(outcomes[0].status == AppendOutcome::Status::invalid);
    CHECK(outcomes[0].error.find("correlation_id") != std::string::npos);
    CHECK(outcomes[1].status == AppendOutcome::Status::appended);
    CHECK(store->head_seq("trace-2") == 0);
    CHECK(store->head_seq("trace-3") == 1);
  }

  TEST_CASE("in one group commit, a request with JSON no store can write fails alone") {
    auto store = fresh_store();
    // Built in C++, so no parser stood in the way: invalid UTF-8 in a payload string, in a key,
    // in a stream id; nesting far beyond the limit; a non-finite number.
    auto bad_string = msg("mixed-bad-1", "test.happened", {{"name", std::string("caf\xe9")}});
    auto bad_key = msg("mixed-bad-2", "test.happened", {{std::string("k\xff"), 1}});
    std::string bad_id = "mixed-\xff";
    Json deep = Json::object();
    Json* at = &deep;
    for (int i = 0; i < 1000; ++i) at = &((*at)["d"] = Json::object());
    auto too_deep = msg("mixed-bad-4", "test.happened", std::move(deep));
    auto infinite = msg("mixed-bad-5", "test.happened", {{"n", std::numeric_limits<double>::infinity()}});
    std::vector<AppendRequest> requests;
    requests.push_back({"mixed-ok-1", ExpectedSeq::exactly(0), msgs("mixed-ok-1", 2)});
    requests.push_back({"mixed-bad-1", ExpectedSeq::any(), {bad_string}});
    requests.push_back({"mixed-bad-2", ExpectedSeq::any(), {bad_key}});
    requests.push_back({bad_id, ExpectedSeq::any(), {msg(bad_id)}});
    requests.push_back({"mixed-bad-4", ExpectedSeq::any(), {too_deep}});
    requests.push_back({"mixed-bad-5", ExpectedSeq::any(), {infinite}});
    requests.push_back({"mixed-ok-2", ExpectedSeq::any(), msgs("mixed-ok-2", 1)});
    auto outcomes = store->append_many(requests);
    REQUIRE(outcomes.size() == 7);
    CHECK(outcomes[0].status == AppendOutcome::Status::appended);
    CHECK(outcomes[6].status == AppendOutcome::Status::appended);
    for (size_t i = 1; i <= 5; ++i) {
      CAPTURE(i);
      CHECK(outcomes[i].status == AppendOutcome::Status::invalid);
    }
    CHECK(outcomes[1].error.find("/name is not valid UTF-8") != std::string::npos);
    CHECK(outcomes[2].error.find("not valid UTF-8") != std::string::npos);
    CHECK(outcomes[3].error.find("stream id") != std::string::npos);
    CHECK(outcomes[4].error.find("nested deeper than 64 levels") != std::string::npos);
    CHECK(outcomes[5].error.find("not finite") != std::string::npos);
    CHECK(store->head_seq("mixed-ok-1") == 2);
    CHECK(store->head_seq("mixed-ok-2") == 1);
    for (const char* stream : {"mixed-bad-1", "mixed-bad-2", "mixed-bad-4", "mixed-bad-5"}) CHECK(store->head_seq(stream) == 0);
    CHECK(whole_feed(*store, 3).size() == 3);
    // Store::append reports the same as BadInput, never another exception.
    CHECK_THROWS_AS(store->append("mixed-bad-1", ExpectedSeq::any(), {bad_string}), BadInput);
  }

  TEST_CASE("list_streams shows the most recently written first, with heads") {
    auto store = fresh_store();
    store->append("old", ExpectedSeq::any(), msgs("old", 2));
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    store->append("new", ExpectedSeq::any(), msgs("new", 1));
    auto streams = store->list_streams(10);
    REQUIRE(streams.size() == 2);
    CHECK(streams[0].stream_id == "new");
    CHECK(streams[0].head_seq == 1);
    CHECK(streams[1].stream_id == "old");
    CHECK(streams[1].head_seq == 2);
    CHECK(store->list_streams(1).size() == 1);
  }

  TEST_CASE("list_streams with a prefix shows only the streams whose id starts with it") {
    auto store = fresh_store();
    for (const char* stream : {"cart-1", "cart-2", "carts", "order-1", "car"})
      store->append(stream, ExpectedSeq::any(), msgs(stream, 1));
    std::set<std::string> found;
    for (const auto& s : store->list_streams(10, "cart-")) found.insert(s.stream_id);
    CHECK(found == std::set<std::string>{"cart-1", "cart-2"});
    CHECK(store->list_streams(10, "cart").size() == 3);
    CHECK(store->list_streams(1, "cart").size() == 1);
    CHECK(store->list_streams(10, "nothing").empty());
    CHECK(store->list_streams(10, "").size() == 5);
    // Characters LIKE would take for patterns are plain text here.
    store->append("a_%b", ExpectedSeq::any(), msgs("a_%b", 1));
    store->append("axxb", ExpectedSeq::any(), msgs("axxb", 1));
    REQUIRE(store->list_streams(10, "a_%").size() == 1);
    CHECK(store->list_streams(10, "a_%")[0].stream_id == "a_%b");
  }

  TEST_CASE("hostile and unicode stream ids and payloads are stored and read back verbatim") {
    auto store = fresh_store();
    std::string hostile = "x'); DROP TABLE messages; --";
    std::string unicode = "panier-\xc3\xa9t\xc3\xa9-\xf0\x9f\x9b\x92";
    Json payload = {{"quote", "it's \"quoted\" \\ backslash"}, {"emoji", "\xf0\x9f\x8e\x89"}, {"big", 9007199254740993},
                    {"nested", {{"list", {1, 2.5, nullptr, true}}}}};
    store->append(hostile, ExpectedSeq::exactly(0), {msg(hostile, "test.happened", payload)});
    store->append(unicode, ExpectedSeq::exactly(0), {msg(unicode, "test.happened", payload)});
    auto read = store->read_stream(hostile);
    REQUIRE(read.size() == 1);
    CHECK(read[0].stream_id == hostile);
    CHECK(read[0].payload == payload);
    CHECK(store->read_stream(unicode).at(0).stream_id == unicode);
    CHECK(store->head_seq(hostile) == 1);
  }

  TEST_CASE("bad input is a clear error and writes nothing") {
    auto store = fresh_store({200, 200, 1024});
    auto rejected = [&](const std::string& stream, Message m) {
      m.stream_id = stream;
      CHECK_THROWS_AS(store->append(stream, ExpectedSeq::any(), {m}), BadInput);
    };
    rejected("", msg("x"));
    rejected(std::string(201, 'a'), msg("x"));
    rejected("tab\there", msg("x"));
    rejected(std::string("nul\0here", 8), msg("x"));
    rejected("ok", msg("ok", ""));
    rejected("ok", msg("ok", "has space"));
    rejected("ok", msg("ok", "semi;colon"));
    rejected("ok", msg("ok", "test.happened", Json::array({1, 2})));
    rejected("ok", msg("ok", "test.happened", Json("text")));
    rejected("ok", msg("ok", "test.happened", {{"blob", std::string(2000, 'x')}}));
    rejected("ok", msg("ok", "test.happened", {{"nul", std::string("a\0b", 3)}}));
    auto bad_metadata = msg("ok");
    bad_metadata.metadata = Json::array();
    rejected("ok", bad_metadata);
    auto bad_id = msg("ok");
    bad_id.id = "not-a-uuid";
    rejected("ok", bad_id);
    auto bad_revision = msg("ok");
    bad_revision.revision = 0;
    rejected("ok", bad_revision);
    CHECK_THROWS_AS(store->append("ok", ExpectedSeq::any(), {}), BadInput);
    CHECK_THROWS_AS(store->append("ok", ExpectedSeq::exactly(-1), {msg("ok")}), BadInput);
    auto twice = msg("ok");
    CHECK_THROWS_AS(store->append("ok", ExpectedSeq::any(), {twice, twice}), BadInput);
    auto elsewhere = msg("other");
    CHECK_THROWS_AS(store->append("ok", ExpectedSeq::any(), {elsewhere}), BadInput);
    std::string at_limit(200, 'a');
    CHECK(store->append(at_limit, ExpectedSeq::any(), {msg(at_limit)})[0].seq == 1);
    CHECK(whole_feed(*store, 1).size() == 1);
    CHECK(store->head_seq("ok") == 0);
    CHECK_THROWS_AS(store->schedule(msg("ok", "bad type"), now()), BadInput);
    CHECK_THROWS_AS(store->save_snapshot({"", 1, 1, Json::object()}), BadInput);
    CHECK_THROWS_AS(FeedCursor::parse("12"), BadInput);
    CHECK_THROWS_AS(FeedCursor::parse("a:b"), BadInput);
    CHECK_THROWS_AS(FeedCursor::parse("1:2x"), BadInput);
  }

  TEST_CASE("concurrent appends to one stream with expected seqs: exactly one wins each seq") {
    auto store = fresh_store();
    constexpr int threads = 4, attempts = 25;
    std::atomic<int> wins{0}, conflicts{0};
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t)
      pool.emplace_back([&] {
        for (int i = 0; i < attempts; ++i) {
          auto head = store->head_seq("contended");
          try {
            store->append("contended", ExpectedSeq::exactly(head), {msg("contended")});
            ++wins;
          } catch (const ConcurrencyConflict&) {
            ++conflicts;
          }
        }
      });
    for (auto& t : pool) t.join();
    CHECK(wins + conflicts == threads * attempts);
    CHECK(store->head_seq("contended") == wins.load());
    auto read = store->read_stream("contended");
    REQUIRE(static_cast<int>(read.size()) == wins.load());
    for (size_t i = 0; i < read.size(); ++i) CHECK(read[i].seq == static_cast<int64_t>(i) + 1);
  }
}

TEST_SUITE("conformance: consumer groups") {
  TEST_CASE("a group starts at the beginning or at the head; cursors save only within a generation") {
    auto store = fresh_store();
    store->append("g-1", ExpectedSeq::any(), msgs("g-1", 3));
    auto head = whole_feed(*store, 3).back().cursor;
    auto group = store->ensure_group("projector.a", 2, StartFrom::beginning());
    CHECK(group.active);
    CHECK(group.slice_count == 2);
    CHECK(store->load_cursor("projector.a", 0) == FeedCursor{});
    store->ensure_group("projector.now", 1, StartFrom::now());
    CHECK(store->load_cursor("projector.now", 0) == head);
    CHECK(store->ensure_group("projector.a", 7, StartFrom::now()).slice_count == 2);  // existing groups keep theirs
    auto first = whole_feed(*store, 3).front().cursor;
    store->ensure_group("projector.after", 3, StartFrom::after(first));
    CHECK(store->load_cursor("projector.after", 2) == first);
    auto lease = store->try_lease_slice("projector.a", 1, "me");
    REQUIRE(lease != nullptr);
    CHECK(lease->fence().slice == 1);
    CHECK(store->save_cursor("projector.a", lease->fence(), group.generation, head));
    CHECK(store->load_cursor("projector.a", 1) == head);
    CHECK_FALSE(store->save_cursor("projector.a", lease->fence(), group.generation + 1, FeedCursor{}));
    CHECK(store->load_cursor("projector.a", 1) == head);
    CHECK(store->list_groups().size() == 3);
    CHECK_FALSE(store->find_group("nobody").has_value());
    CHECK_THROWS_AS(store->set_group_active("nobody", false), BadInput);
  }

  TEST_CASE("stream progress never moves backwards; marks commit with appends") {
    auto store = fresh_store();
    store->ensure_group("g", 1, StartFrom::beginning());
    store->mark_handled({"g", "s-1", 5});
    store->mark_handled({"g", "s-1", 3});
    auto progress = store->load_progress("g", {"s-1", "s-2"});
    REQUIRE(progress.size() == 1);
    CHECK(progress[0].seq == 5);
    AppendRequest with_mark{"s-2", ExpectedSeq::any(), msgs("s-2", 1), ProgressMark{"g", "s-2", 9}};
    AppendRequest conflicting{"s-3", ExpectedSeq::exactly(4), msgs("s-3", 1), ProgressMark{"g", "s-3", 9}};
    auto outcomes = store->append_many({with_mark, conflicting});
    CHECK(outcomes[0].status == AppendOutcome::Status::appended);
    CHECK(outcomes[1].status == AppendOutcome::Status::conflict);
    progress = store->load_progress("g", {"s-2", "s-3"});
    REQUIRE(progress.size() == 1);
    CHECK(progress[0].stream_id == "s-2");
    CHECK(progress[0].seq == 9);
  }

  TEST_CASE("a stopped stream is listed with its failure; resume and skip let it flow again") {
    auto store = fresh_store();
    store->ensure_group("g", 1, StartFrom::beginning());
    store->mark_handled({"g", "poison", 2});
    store->stop_stream("g", {"poison", 0, true, 3, new_uuid(), "boom", 5}, std::nullopt);
    auto failed = store->failed_streams("g");
    REQUIRE(failed.size() == 1);
    CHECK(failed[0].stopped);
    CHECK(failed[0].seq == 2);
    CHECK(failed[0].failed_seq == 3);
    CHECK(failed[0].error == "boom");
    CHECK(failed[0].attempts == 5);
    store->resume_stream("g", "poison", true);
    failed = store->failed_streams("g");
    REQUIRE(failed.size() == 1);  // resumed, its failed event not yet re-handled
    CHECK_FALSE(failed[0].stopped);
    CHECK(failed[0].seq == 3);    // skipped past the poison
    store->clear_failure("g", "poison", std::nullopt);
    CHECK(store->failed_streams("g").empty());
    CHECK_THROWS_AS(store->resume_stream("g", "poison", false), BadInput);
  }

  TEST_CASE("reset re-delivers history: cursors back to the start, progress cleared, replay up to the head") {
    auto store = fresh_store();
    store->append("r-1", ExpectedSeq::any(), msgs("r-1", 2));
    auto head = whole_feed(*store, 2).back().cursor;
    auto before = store->ensure_group("g", 2, StartFrom::beginning());
    auto lease = store->try_lease_slice("g", 0, "me");
    store->save_cursor("g", lease->fence(), before.generation, head);
    store->mark_handled({"g", "r-1", 2});
    store->reset_group("g");
    auto after = *store->find_group("g");
    CHECK(after.generation == before.generation + 1);
    CHECK(after.replay_until == head);
    CHECK(store->load_cursor("g", 0) == FeedCursor{});
    CHECK(store->load_progress("g", {"r-1"}).empty());
    CHECK_FALSE(store->save_cursor("g", lease->fence(), before.generation, head));
    auto status = store->slice_status("g");
    REQUIRE(status.size() == 2);
    CHECK(status[0].lag_events + status[1].lag_events == 2);
  }

  TEST_CASE("cursor_passed tells whether a stream's event lies at or before its slice's cursor") {
    auto store = fresh_store();
    store->ensure_group("g", 2, StartFrom::beginning());
    store->append("passed-a", ExpectedSeq::any(), {msg("passed-a", "test.happened"), msg("passed-a", "test.happened")});
    auto slice = stream_hash("passed-a") % 2;
    auto entries = whole_feed(*store, 2, {{}, 2, {slice}});
    REQUIRE(entries.size() == 2);
    CHECK_FALSE(store->cursor_passed("g", "passed-a", 1));
    auto lease = store->try_lease_slice("g", slice, "me");
    REQUIRE(store->save_cursor("g", lease->fence(), 1, entries[0].cursor));
    CHECK(store->cursor_passed("g", "passed-a", 1));
    CHECK_FALSE(store->cursor_passed("g", "passed-a", 2));
    CHECK_FALSE(store->cursor_passed("g", "passed-a", 3));  // no such event
    CHECK_FALSE(store->cursor_passed("g", "nowhere", 1));
  }

  TEST_CASE("a slice has one owner at a time; releasing it lets another take it, and clears the owner") {
    auto store = fresh_store();
    store->ensure_group("g", 2, StartFrom::beginning());
    auto first = store->try_lease_slice("g", 0, "one");
    REQUIRE(first != nullptr);
    CHECK(first->alive());
    CHECK(store->slice_status("g")[0].owner == "one");
    CHECK(store->try_lease_slice("g", 0, "two") == nullptr);
    CHECK(store->try_lease_slice("g", 1, "two") != nullptr);
    first.reset();
    CHECK(store->slice_status("g")[0].owner.empty());  // `cairn status` names live owners only
    CHECK(store->try_lease_slice("g", 0, "two") != nullptr);
    CHECK_THROWS_AS(store->try_lease_slice("g", 5, "three"), BadInput);
  }

  TEST_CASE("a group's census counts the processes that joined it and names each slice's live owner") {
    auto store = fresh_store();
    store->ensure_group("g", 3, StartFrom::beginning());
    auto membership = store->join_group("g");
    auto lease = store->try_lease_slice("g", 1, "me");
    REQUIRE(lease != nullptr);
    auto census = membership->census();
    CHECK(census.members == 1);
    CHECK(census.owners == std::vector<std::string>{"", "me", ""});
    lease.reset();
    CHECK(membership->census().owners == std::vector<std::string>{"", "", ""});
    membership.reset();
    auto other = store->join_group("g");
    CHECK(other->census().members == 1);  // the first one left
  }

  TEST_CASE("a lease is fenced: once another owner took the slice, no progress write of the old one lands") {
    auto store = fresh_store();
    store->append("f-1", ExpectedSeq::any(), msgs("f-1", 2));
    auto head = whole_feed(*store, 2).back().cursor;
    auto group = store->ensure_group("g", 1, StartFrom::beginning());
    auto old_lease = store->try_lease_slice("g", 0, "old");
    auto old = old_lease->fence();
    store->mark_handled({"g", "f-1", 1, old});  // still the owner: lands
    old_lease.reset();  // as if its session died: the new owner gets a new epoch
    auto lease = store->try_lease_slice("g", 0, "new");
    REQUIRE(lease != nullptr);
    CHECK(lease->fence().epoch != old.epoch);

    CHECK_THROWS_AS(store->mark_handled({"g", "f-1", 2, old}), LeaseLost);
    CHECK_THROWS_AS(store->save_progress("g", old, group.generation, head, {{"g", "f-1", 2, old}}), LeaseLost);
    CHECK_THROWS_AS(store->stop_stream("g", {"f-1", 1, true, 2, new_uuid(), "boom", 1}, old), LeaseLost);
    CHECK_THROWS_AS(store->update_projection("k", {"g", "f-1", 2, old}, {}, [](Json) { return Json(1); }), LeaseLost);
    AppendRequest fenced{"f-2", ExpectedSeq::any(), msgs("f-2", 1), ProgressMark{"g", "f-2", 1, old}};
    AppendRequest other{"f-3", ExpectedSeq::any(), msgs("f-3", 1)};
    auto outcomes = store->append_many({fenced, other});
    CHECK(outcomes[0].status == AppendOutcome::Status::lease_lost);
    CHECK(outcomes[1].status == AppendOutcome::Status::appended);  // one stale fence fails only its request
    CHECK(store->head_seq("f-2") == 0);
    CHECK(store->load_progress("g", {"f-1", "f-2"}).front().seq == 1);
    CHECK(store->load_cursor("g", 0) == FeedCursor{});
    CHECK_FALSE(store->load_projection("g", "k").has_value());

    auto now = lease->fence();
    CHECK(store->save_progress("g", now, group.generation, head, {{"g", "f-1", 2, now}}));
    CHECK(store->load_progress("g", {"f-1"}).front().seq == 2);
  }

  TEST_CASE("a group's shape: first recorded, types added with nothing passed adopted, anything else refused") {
    auto store = fresh_store();
    store->append("t-1", ExpectedSeq::any(), msgs("t-1", 1));  // type "test.happened"
    auto group = store->ensure_group("g", 1, StartFrom::beginning());
    CHECK(group.types.empty());
    CHECK(store->check_shape("g", {1, {"test.happened"}}).verdict == ShapeCheck::Verdict::same);
    CHECK(store->find_group("g")->types == std::vector<std::string>{"test.happened"});
    CHECK(store->check_shape("g", {1, {"test.happened"}}).verdict == ShapeCheck::Verdict::same);

    auto fewer = store->check_shape("g", {1, {}});
    CHECK(fewer.verdict == ShapeCheck::Verdict::refused);
    CHECK(fewer.reason.find("test.happened") != std::string::npos);
    auto slices = store->check_shape("g", {4, {"test.happened"}});
    CHECK(slices.verdict == ShapeCheck::Verdict::refused);
    CHECK(slices.reason.find("has 1 slices, this process has 4") != std::string::npos);

    // "test.other" exists nowhere yet: adopting it is safe, and bumps the generation.
    auto added = store->check_shape("g", {1, {"test.happened", "test.other"}});
    CHECK(added.verdict == ShapeCheck::Verdict::adopted);
    CHECK(added.group.generation == group.generation + 1);
    CHECK(store->find_group("g")->types == std::vector<std::string>{"test.happened", "test.other"});
    CHECK(store->check_shape("g", {1, {"test.happened"}}).verdict == ShapeCheck::Verdict::refused);  // the old version

    // An event of a new type that the cursor already passed: refused, with the way forward.
    store->append("t-2", ExpectedSeq::any(), {msg("t-2", "test.fourth")});
    auto lease = store->try_lease_slice("g", 0, "me");
    store->save_cursor("g", lease->fence(), added.group.generation, whole_feed(*store, 2).back().cursor);
    auto refused = store->check_shape("g", {1, {"test.fourth", "test.happened", "test.other"}});
    CHECK(refused.verdict == ShapeCheck::Verdict::refused);
    CHECK(refused.reason.find("already passed 1 events of [test.fourth]") != std::string::npos);
    CHECK(refused.reason.find("cairn reset g") != std::string::npos);
    CHECK(store->find_group("g")->types == std::vector<std::string>{"test.happened", "test.other"});
  }

  TEST_CASE("a reset with a shape re-slices the group: new slices, all at the start, old fences void") {
    auto store = fresh_store();
    store->append("s-1", ExpectedSeq::any(), msgs("s-1", 2));
    store->ensure_group("g", 4, StartFrom::beginning());
    store->check_shape("g", {4, {"test.happened"}});
    std::vector<std::unique_ptr<SliceLease>> leases;
    for (uint32_t s = 0; s < 4; ++s) leases.push_back(store->try_lease_slice("g", s, "reset"));
    auto old = leases[1]->fence();
    store->reset_group("g", GroupShape{2, {"test.happened", "test.more"}});
    leases.clear();
    auto group = *store->find_group("g");
    CHECK(group.slice_count == 2);
    CHECK(group.types == std::vector<std::string>{"test.happened", "test.more"});
    CHECK(store->slice_status("g").size() == 2);
    CHECK(store->load_cursor("g", 1) == FeedCursor{});
    CHECK_THROWS_AS(store->mark_handled({"g", "s-1", 1, old}), LeaseLost);
    CHECK(store->try_lease_slice("g", 1, "new") != nullptr);
    CHECK(store->check_shape("g", {2, {"test.happened", "test.more"}}).verdict == ShapeCheck::Verdict::same);
  }
}

TEST_SUITE("conformance: projections") {
  TEST_CASE("a projection update applies once per (stream, seq), atomically with the stream's progress") {
    auto store = fresh_store();
    store->ensure_group("views", 1, StartFrom::beginning());
    auto add = [](int n) { return [n](Json state) { return Json(state.is_null() ? n : state.get<int>() + n); }; };
    CHECK(store->update_projection("user-1", {"views", "order-1", 2}, {}, add(5)));
    CHECK_FALSE(store->update_projection("user-1", {"views", "order-1", 2}, {}, add(5)));  // a re-delivery
    CHECK(store->update_projection("user-1", {"views", "order-2", 1}, {}, add(7)));
    CHECK(*store->load_projection("views", "user-1") == 12);
    CHECK_THROWS(store->update_projection("user-1", {"views", "order-3", 1}, {}, [](Json) -> Json {
      throw std::runtime_error("evolve failed");
    }));
    CHECK(*store->load_projection("views", "user-1") == 12);
    CHECK(store->load_progress("views", {"order-3"}).empty());  // nothing recorded for the failed one
    CHECK_FALSE(store->load_projection("views", "user-2").has_value());
    store->clear_projections("views");
    CHECK_FALSE(store->load_projection("views", "user-1").has_value());
  }

  // A runner that just met a stream assumes its earlier events handled, and flags the mark: the
  // update must not pass an event of the projector's types that the runner was never handed.
  TEST_CASE("a flagged projection update refuses to pass an event of its types it was not handed") {
    auto store = fresh_store();
    store->ensure_group("views", 1, StartFrom::beginning());
    store->append("order-1", ExpectedSeq::exactly(0), {msg("order-1", "a"), msg("order-1", "b"), msg("order-1", "a")});
    auto add = [](Json state) { return Json(state.is_null() ? 1 : state.get<int>() + 1); };
    auto flagged = [](const std::string& group, int64_t seq) { return ProgressMark{group, "order-1", seq, {}, true}; };
    try {
      store->update_projection("k", flagged("views", 3), {"a"}, add);
      FAIL("the update passed seq 1");
    } catch (const StreamGap& gap) {
      CHECK(gap.stream() == "order-1");
      CHECK(gap.after_seq() == 0);
    }
    CHECK_FALSE(store->load_projection("views", "k").has_value());  // nothing changed
    CHECK(store->load_progress("views", {"order-1"}).empty());
    CHECK(store->update_projection("k", flagged("views", 1), {"a"}, add));
    CHECK(store->update_projection("k", flagged("views", 3), {"a"}, add));  // seq 2 is not its type
    CHECK(*store->load_projection("views", "k") == 2);
    // Unflagged, the same update is taken as it comes: the flag is what asks for the check.
    store->ensure_group("plain", 1, StartFrom::beginning());
    CHECK(store->update_projection("k", {"plain", "order-1", 3}, {"a"}, add));
    // Events before a group's start are not its business (the start is the feed's head, which
    // shows them once the feed does).
    REQUIRE(whole_feed(*store, 3).size() == 3);
    store->ensure_group("late", 1, StartFrom::now());
    store->append("order-1", ExpectedSeq::exactly(3), {msg("order-1", "b"), msg("order-1", "a")});
    CHECK(store->update_projection("k", flagged("late", 5), {"a"}, add));
    CHECK(store->load_progress("late", {"order-1"}).at(0).seq == 5);
  }

  TEST_CASE("an evolve that returns null removes the key; the stream's progress is still recorded") {
    auto store = fresh_store();
    store->ensure_group("views", 1, StartFrom::beginning());
    CHECK(store->update_projection("member-1", {"views", "loan-1", 1}, {}, [](Json) { return Json{{"books", 1}}; }));
    CHECK(store->update_projection("member-1", {"views", "loan-1", 2}, {}, [](Json) { return Json(); }));
    CHECK_FALSE(store->load_projection("views", "member-1").has_value());
    CHECK(store->list_projections("views", "", 10).empty());
    CHECK(store->load_progress("views", {"loan-1"}).at(0).seq == 2);
    CHECK_FALSE(store->update_projection("member-1", {"views", "loan-1", 2}, {}, [](Json) { return Json(1); }));
    CHECK_FALSE(store->load_projection("views", "member-1").has_value());  // a re-delivery does not bring it back
    CHECK(store->update_projection("member-1", {"views", "loan-1", 3}, {}, [](Json state) {
      return Json(state.is_null() ? "new again" : "stale");  // a dropped key starts over from null
    }));
    CHECK(*store->load_projection("views", "member-1") == "new again");
    CHECK(store->update_projection("member-2", {"views", "loan-2", 1}, {}, [](Json) { return Json(); }));  // never there
    CHECK_FALSE(store->load_projection("views", "member-2").has_value());
  }

  TEST_CASE("list_projections pages through one group's views in key order") {
    auto store = fresh_store();
    store->ensure_group("views", 1, StartFrom::beginning());
    store->ensure_group("other", 1, StartFrom::beginning());
    for (int i = 0; i < 5; ++i)
      store->update_projection("user-" + std::to_string(i), {"views", "order-" + std::to_string(i), 1}, {},
                               [i](Json) { return Json(i); });
    store->update_projection("user-9", {"other", "order-9", 1}, {}, [](Json) { return Json(9); });
    auto first = store->list_projections("views", "", 2);
    REQUIRE(first.size() == 2);
    CHECK(first[0].key == "user-0");
    CHECK(first[0].state == 0);
    CHECK(first[1].key == "user-1");
    auto rest = store->list_projections("views", first[1].key, 10);
    REQUIRE(rest.size() == 3);
    CHECK(rest[0].key == "user-2");
    CHECK(rest[2].key == "user-4");
    CHECK(rest[2].state == 4);
    CHECK(store->list_projections("views", "user-4", 10).empty());
    CHECK(store->list_projections("nobody", "", 10).empty());
  }

  TEST_CASE("many streams updating one key concurrently lose nothing") {
    auto store = fresh_store();
    store->ensure_group("views", 1, StartFrom::beginning());
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t)
      threads.emplace_back([&, t] {
        for (int seq = 1; seq <= 50; ++seq)
          store->update_projection("shared", {"views", "stream-" + std::to_string(t), seq}, {},
                                   [](Json state) { return Json(state.is_null() ? 1 : state.get<int>() + 1); });
      });
    for (auto& t : threads) t.join();
    CHECK(*store->load_projection("views", "shared") == 200);
  }
}
