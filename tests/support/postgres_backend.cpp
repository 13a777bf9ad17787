// Runs a suite on the PostgreSQL backend (one database per binary, emptied per test).
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include "backends/postgres/postgres_store.hpp"
#include "tests/support/backend.hpp"
#include "tests/support/test_database.hpp"

namespace cairn::testing {

TestDatabase& database() {
  static TestDatabase db;
  return db;
}
std::string backend_url() { return database().url(); }
std::string fresh_backend_url() {
  database().truncate();
  return database().url();
}
bool backend_is_postgres() { return true; }
std::unique_ptr<Store> fresh_store(Limits limits) {
  return std::make_unique<PostgresStore>(fresh_backend_url(), limits);
}

}  // namespace cairn::testing
