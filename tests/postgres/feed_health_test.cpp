// A stalled feed is visible: the transaction holding the horizon back, its age, and `cairn status`'s
// warning; Cairn's own sessions end a transaction left idle.
#include <doctest/doctest.h>

#include <optional>
#include <thread>

#include <pqxx/pqxx>

#include "backends/postgres/postgres_store.hpp"
#include "tests/support/eventually.hpp"
#include "tests/support/process.hpp"
#include "tests/support/test_database.hpp"

using namespace cairn;
using cairn::testing::eventually;

namespace {

// What an operator's forgotten psql session does: BEGIN, take a transaction id, walk away.
struct IdleTransaction {
  explicit IdleTransaction(const std::string& url) : connection(url) {
    pqxx::nontransaction(connection).exec0("SET application_name = 'forgotten-psql'");
    tx.emplace(connection);
    xid = tx->exec1("SELECT pg_current_xact_id()::text")[0].as<uint64_t>();
  }
  pqxx::connection connection;
  std::optional<pqxx::work> tx;
  uint64_t xid = 0;
};

std::string show(PostgresStore& store, const std::string& setting) {
  std::string value;
  store.transact([&](pqxx::work& tx) { value = tx.exec1("SHOW " + setting)[0].c_str(); });
  return value;
}

}  // namespace

TEST_CASE("feed health names the transaction that stalls the feed, with an age that grows") {
  testing::TestDatabase db;
  PostgresStore store(db.url());
  store.ensure_group("health.watch", 1, StartFrom::beginning());
  IdleTransaction idle(db.url());
  store.append("health-1", ExpectedSeq::any(), {make_message("health-1", "health.happened", Json::object())});

  // Other suites share the server: wait until their (short) transactions are not the oldest.
  FeedHealth health;
  REQUIRE(eventually([&] { return (health = store.feed_health()).horizon_xid == idle.xid; }));
  CHECK(health.held);
  REQUIRE(health.holder);
  CHECK(health.holder->pid == idle.connection.backendpid());
  CHECK(health.holder->application_name == "forgotten-psql");
  CHECK(health.holder->state == "idle in transaction");
  CHECK(health.holder->database == idle.connection.dbname());
  CHECK(health.holder->query_start.has_value());
  CHECK(store.read_feed(FeedCursor{}, 10, FeedFilter{}).empty());  // the event waits behind the horizon

  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  auto later = store.feed_health();
  REQUIRE(later.holder);
  CHECK(later.age_seconds() > health.age_seconds() + 1);

  auto cairn = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {"--db", db.url(), "status"});
    return testing::run_process(CAIRN_CLI_PATH, args);
  };
  auto pid = std::to_string(idle.connection.backendpid());
  auto text = cairn({"--warn-horizon-seconds", "1"});
  CHECK(text.exit_code == 0);
  CHECK(text.out.find("feed horizon: xid " + std::to_string(idle.xid) + ", held") == 0);
  CHECK(text.out.find("pid " + pid + " (forgotten-psql, idle in transaction") != std::string::npos);
  CHECK(text.err.find("warning: every consumer group has waited") != std::string::npos);
  CHECK(text.err.find("pg_terminate_backend(" + pid + ")") != std::string::npos);

  auto json = cairn({"--json", "--warn-horizon-seconds", "1"});
  CHECK(json.exit_code == 0);
  CHECK(json.err.find("warning") != std::string::npos);
  auto feed = Json::parse(json.out)["feed"];
  CHECK(feed["stalled"] == true);
  CHECK(feed["horizon_xid"] == idle.xid);
  CHECK(feed["holder"]["pid"] == idle.connection.backendpid());
  CHECK(feed["age_seconds"].get<double>() > 1);

  idle.tx->abort();
  CHECK(eventually([&] { return store.read_feed(FeedCursor{}, 10, FeedFilter{}).size() == 1; }));
  CHECK(cairn({"--warn-horizon-seconds", "600"}).err.empty());
}

TEST_CASE("Cairn's sessions end a transaction left idle for a minute, unless the operator chose otherwise") {
  testing::TestDatabase db;
  {
    PostgresStore store(db.url());
    CHECK(show(store, "idle_in_transaction_session_timeout") == "1min");
  }
  {
    pqxx::connection c(db.url());
    pqxx::nontransaction tx(c);
    tx.exec0("ALTER DATABASE " + tx.quote_name(c.dbname()) + " SET idle_in_transaction_session_timeout = '5min'");
  }
  PostgresStore store(db.url());
  CHECK(show(store, "idle_in_transaction_session_timeout") == "5min");
}
