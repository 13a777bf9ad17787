// Schema migrations on a real PostgreSQL: empty database, twice, racing runs, unmigrated store, an older log.
#include <doctest/doctest.h>

#include <atomic>
#include <thread>

#include <pqxx/pqxx>

#include "backends/postgres/migrations.hpp"
#include "backends/postgres/postgres_store.hpp"
#include <cairn/errors.hpp>
#include "tests/support/test_database.hpp"

using namespace cairn;

namespace {

int count_rows(const std::string& url, const std::string& sql) {
  pqxx::connection c(url);
  pqxx::read_transaction tx(c);
  return tx.exec1(sql)[0].as<int>();
}

}  // namespace

TEST_CASE("migrate on an empty database applies every migration, then reports the schema up to date") {
  testing::TestDatabase db(false);
  CHECK(postgres::schema_version(db.url()) == 0);
  auto applied = postgres::migrate(db.url());
  const auto& all = postgres::embedded_migrations();
  REQUIRE(applied.size() == all.size());
  CHECK(applied.front() == all.front().name);
  CHECK(postgres::schema_version(db.url()) == all.back().version);
  CHECK(count_rows(db.url(), "SELECT count(*) FROM cairn.migrations") == static_cast<int>(all.size()));
  CHECK(count_rows(db.url(), "SELECT count(*) FROM cairn.messages") == 0);

  CHECK(postgres::migrate(db.url()).empty());
  CHECK(count_rows(db.url(), "SELECT count(*) FROM cairn.migrations") == static_cast<int>(all.size()));
}

TEST_CASE("racing migrations: every run succeeds and each migration is applied once") {
  testing::TestDatabase db(false);
  std::atomic<size_t> applied{0};
  std::atomic<int> failures{0};
  std::vector<std::thread> runs;
  for (int i = 0; i < 4; ++i)
    runs.emplace_back([&] {
      try {
        applied += postgres::migrate(db.url()).size();
      } catch (const std::exception&) {
        ++failures;
      }
    });
  for (auto& t : runs) t.join();
  CHECK(failures.load() == 0);
  CHECK(applied.load() == postgres::embedded_migrations().size());
  CHECK(count_rows(db.url(), "SELECT count(*) FROM cairn.migrations") ==
        static_cast<int>(postgres::embedded_migrations().size()));
}

TEST_CASE("opening a store on an unmigrated database says to run cairn migrate") {
  testing::TestDatabase db(false);
  try {
    PostgresStore store(db.url());
    FAIL("expected StoreError");
  } catch (const StoreError& e) {
    CHECK(std::string(e.what()).find("cairn migrate") != std::string::npos);
  }
}

TEST_CASE("an unreachable database is a StoreError, not a crash") {
  CHECK_THROWS_AS(postgres::migrate("postgresql://postgres@127.0.0.1:1/nowhere?connect_timeout=2"), StoreError);
}

TEST_CASE("migration 013 keeps a log written before it: its messages, trails, heads and id checks") {
  testing::TestDatabase db(false);
  {
    pqxx::connection c(db.url());
    pqxx::work tx(c);
    tx.exec0("CREATE SCHEMA cairn");
    tx.exec0("CREATE TABLE cairn.migrations (version integer PRIMARY KEY, name text NOT NULL, "
             "applied_at timestamptz NOT NULL DEFAULT now())");
    for (const auto& m : postgres::embedded_migrations()) {
      if (m.version >= 13) break;
      tx.exec0(m.sql);
      tx.exec_params("INSERT INTO cairn.migrations (version, name) VALUES ($1, $2)", m.version, m.name);
    }
    // A root command (its own correlation) and the event it caused, as the store wrote them then.
    tx.exec0("INSERT INTO cairn.messages (id, stream_id, seq, type, payload, metadata, stream_hash) VALUES "
             "('0190a1b2-0000-7000-8000-000000000001', 'old-1', 1, 'old.do', '{}', "
             " '{\"correlation_id\": \"0190a1b2-0000-7000-8000-000000000001\"}', 7), "
             "('0190a1b2-0000-7000-8000-000000000002', 'old-1', 2, 'old.done', '{}', "
             " '{\"correlation_id\": \"0190a1b2-0000-7000-8000-000000000001\", "
             "   \"causation_id\": \"0190a1b2-0000-7000-8000-000000000001\"}', 7)");
    tx.exec0("INSERT INTO cairn.streams (stream_id, head_seq) VALUES ('old-1', 2)");
    tx.commit();
  }
  REQUIRE(postgres::migrate(db.url()).size() == postgres::embedded_migrations().size() - 12);

  PostgresStore postgres_store(db.url());
  Store& store = postgres_store;  // the defaults of its reads are the interface's
  auto trail = store.read_correlation("0190a1b2-0000-7000-8000-000000000001");
  REQUIRE(trail.size() == 2);
  CHECK(trail[0].type == "old.do");
  CHECK(trail[1].type == "old.done");
  CHECK(store.read_correlation("0190A1B2-0000-7000-8000-000000000001").empty());  // ids match as printed

  auto next = make_message("old-1", "old.do", Json::object());
  auto appended = store.append("old-1", ExpectedSeq::exactly(2), {next});
  REQUIRE(appended.size() == 1);
  CHECK(appended[0].seq == 3);
  CHECK(store.list_streams(10).front().head_seq == 3);
  // The same id at another place is refused by the new primary key, as by the old unique index.
  auto again = next;
  again.stream_id = "old-2";
  CHECK_THROWS_AS(store.append("old-2", ExpectedSeq::exactly(0), {again}), BadInput);
}
