// The feed under concurrent writers: every committed event is read exactly once, each stream in seq order.
#include <doctest/doctest.h>

#include <atomic>
#include <map>
#include <random>
#include <set>
#include <thread>

#include <pqxx/pqxx>

#include "backends/postgres/postgres_store.hpp"
#include "tests/support/test_database.hpp"

using namespace cairn;

TEST_CASE("concurrent writers: the feed reader sees every committed event once, each stream in order") {
  testing::TestDatabase db;
  constexpr int writers = 4, appends_per_writer = 600, streams = 25, slow_events = 60;
  std::atomic<bool> writing{true};
  std::atomic<int> committed{0};

  std::vector<std::thread> threads;
  for (int w = 0; w < writers; ++w)
    threads.emplace_back([&, w] {
      PostgresStore store(db.url(), {}, 1);
      std::mt19937 random(static_cast<unsigned>(w));
      for (int i = 0; i < appends_per_writer; ++i) {
        std::string stream = "acct-" + std::to_string(random() % streams);
        std::vector<Message> batch;
        for (unsigned k = 0, n = 1 + random() % 3; k < n; ++k)
          batch.push_back(make_message(stream, "test.deposited", {{"writer", w}, {"i", i}}));
        committed += static_cast<int>(store.append(stream, ExpectedSeq::any(), batch).size());
      }
    });
  // A slow writer: each transaction stays open after its insert, so later positions commit first.
  threads.emplace_back([&] {
    pqxx::connection c(db.url());
    for (int i = 1; i <= slow_events; ++i) {
      pqxx::work tx(c);
      tx.exec_params(
          "INSERT INTO cairn.messages (id, stream_id, seq, type, payload, metadata, stream_hash) "
          "VALUES ($1::uuid, 'slow', $2, 'test.slow', '{}', '{}', 0)",
          new_uuid(), i);
      tx.exec("SELECT pg_sleep(0.02)");
      tx.commit();
      ++committed;
    }
  });

  std::map<std::string, int> seen;
  std::map<std::string, int64_t> last_seq;
  int out_of_order = 0;
  std::atomic<int> naive_seen{0};
  std::thread reader([&] {
    PostgresStore store(db.url(), {}, 1);
    FeedCursor cursor;
    // After the writers finish, read until everything committed arrived: the horizon may lag
    // while other transactions in the cluster are open, but it must get there.
    auto deadline = std::chrono::steady_clock::time_point::max();
    while (std::chrono::steady_clock::now() < deadline) {
      if (!writing.load() && deadline == std::chrono::steady_clock::time_point::max())
        deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
      if (!writing.load() && static_cast<int>(seen.size()) >= committed.load()) break;
      auto page = store.read_feed(cursor, 500, {});
      for (const auto& e : page) {
        ++seen[e.message.id];
        auto& last = last_seq[e.message.stream_id];
        if (e.message.seq != last + 1) ++out_of_order;
        last = e.message.seq;
      }
      if (!page.empty()) cursor = page.back().cursor;
      if (page.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  });
  // What a naive "position > last seen" reader gets under the same load (reported, for comparison).
  std::thread naive([&] {
    pqxx::connection c(db.url());
    std::set<std::string> ids;
    int64_t last = 0;
    int idle_after_writers = 0;
    while (idle_after_writers < 3) {
      bool done = !writing.load();
      pqxx::read_transaction tx(c);
      auto rows = tx.exec_params("SELECT position, id::text FROM cairn.messages WHERE position > $1 ORDER BY position "
                                 "LIMIT 500",
                                 last);
      tx.commit();
      for (const auto& r : rows) {
        ids.insert(r[1].c_str());
        last = r[0].as<int64_t>();
      }
      if (rows.empty() && done) ++idle_after_writers;
      if (rows.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    naive_seen = static_cast<int>(ids.size());
  });

  for (auto& t : threads) t.join();
  writing = false;
  reader.join();
  naive.join();

  int total = committed.load();
  CHECK(static_cast<int>(seen.size()) == total);
  int duplicates = 0;
  for (const auto& [id, n] : seen) duplicates += n - 1;
  CHECK(duplicates == 0);
  CHECK(out_of_order == 0);
  CHECK(last_seq["slow"] == slow_events);
  MESSAGE("committed " << total << " events; the xid-horizon feed saw " << seen.size()
                       << "; a naive position > last reader saw " << naive_seen.load() << " (missed "
                       << total - naive_seen.load() << ")");
}
