// Schema migrations on a real PostgreSQL: empty database, twice, racing runs, unmigrated store.
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
