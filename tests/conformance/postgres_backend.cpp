// Runs the store conformance suite on the PostgreSQL backend (one database, emptied per test).
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include "backends/postgres/postgres_store.hpp"
#include "tests/conformance/backend.hpp"
#include "tests/support/test_database.hpp"

namespace cairn::testing {

std::unique_ptr<Store> fresh_store(Limits limits) {
  static TestDatabase database;
  database.truncate();
  return std::make_unique<PostgresStore>(database.url(), limits);
}

}  // namespace cairn::testing
