#include "backends/postgres/migrations.hpp"

#include <cstdlib>

#include <pqxx/pqxx>

#include "backends/postgres/connect.hpp"
#include <cairn/errors.hpp>

namespace cairn::postgres {
namespace {

// An arbitrary, fixed advisory-lock key that serialises migration runs across processes.
constexpr long long migration_lock_key = 0x6361697216d16a71LL;

}  // namespace

std::vector<std::string> migrate(const std::string& database_url) {
  std::vector<std::string> applied;
  try {
    auto connection = connect(database_url);
    pqxx::work tx(*connection);
    tx.exec_params("SELECT pg_advisory_xact_lock($1)", migration_lock_key);
    // DDL only when something is missing: IF NOT EXISTS still checks CREATE privileges, and an
    // up-to-date schema must be checkable by a role that has none.
    if (tx.exec1("SELECT to_regclass('cairn.migrations') IS NULL")[0].as<bool>()) {
      tx.exec0("SET LOCAL client_min_messages = warning");
      tx.exec0("CREATE SCHEMA IF NOT EXISTS cairn");
      tx.exec0(
          "CREATE TABLE cairn.migrations ("
          " version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())");
    }
    int current = tx.exec1("SELECT coalesce(max(version), 0) FROM cairn.migrations")[0].as<int>();
    for (const auto& m : embedded_migrations()) {
      if (m.version <= current) continue;
      tx.exec0(m.sql);
      tx.exec_params("INSERT INTO cairn.migrations (version, name) VALUES ($1, $2)", m.version, m.name);
      applied.push_back(m.name);
    }
    tx.commit();
  } catch (const pqxx::failure& e) {
    throw StoreError(std::string("migration failed: ") + e.what());
  }
  return applied;
}

std::vector<std::string> create_tables(const std::string& database_url, const std::vector<ReadModelTable>& tables) {
  std::vector<std::string> created;
  try {
    auto connection = connect(database_url);
    pqxx::work tx(*connection);
    tx.exec_params("SELECT pg_advisory_xact_lock($1)", migration_lock_key);
    for (const auto& table : tables) {
      if (!tx.exec_params1("SELECT to_regclass($1) IS NULL", table.name)[0].as<bool>()) continue;
      tx.exec0(table.ddl);
      if (tx.exec_params1("SELECT to_regclass($1) IS NULL", table.name)[0].as<bool>())
        throw BadInput("the DDL of read-model table " + table.name + " did not create it");
      created.push_back(table.name);
    }
    tx.commit();
  } catch (const pqxx::failure& e) {
    throw StoreError(std::string("creating the read-model tables failed: ") + e.what());
  }
  return created;
}

std::vector<std::string> missing_tables(const std::string& database_url, const std::vector<ReadModelTable>& tables) {
  std::vector<std::string> missing;
  if (tables.empty()) return missing;
  try {
    auto connection = connect(database_url);
    pqxx::read_transaction tx(*connection);
    for (const auto& table : tables)
      if (tx.exec_params1("SELECT to_regclass($1) IS NULL", table.name)[0].as<bool>()) missing.push_back(table.name);
  } catch (const pqxx::failure& e) {
    throw StoreError(std::string("cannot look up the read-model tables: ") + e.what());
  }
  return missing;
}

int schema_version(const std::string& database_url) {
  try {
    auto connection = connect(database_url);
    pqxx::read_transaction tx(*connection);
    if (tx.exec1("SELECT to_regclass('cairn.migrations') IS NULL")[0].as<bool>()) return 0;
    return tx.exec1("SELECT coalesce(max(version), 0) FROM cairn.migrations")[0].as<int>();
  } catch (const pqxx::failure& e) {
    throw StoreError(std::string("cannot read the schema version: ") + e.what());
  }
}

std::optional<std::string> schema_behind(int have) {
  int want = embedded_migrations().back().version;
  if (have >= want) return std::nullopt;
  return "the database schema is at version " + std::to_string(have) + ", this build needs " + std::to_string(want) +
         ": run `cairn migrate`";
}

std::optional<std::string> database_problem(const std::string& database_url, int connect_timeout_seconds) {
  auto probe = database_url;
  if (database_url.find("connect_timeout") == std::string::npos && !std::getenv("PGCONNECT_TIMEOUT"))
    probe = with_parameters(database_url, "connect_timeout=" + std::to_string(connect_timeout_seconds));
  try {
    return schema_behind(schema_version(probe));
  } catch (const std::exception& e) {
    return "the database cannot be used: " + scrub_secrets(e.what(), database_url);
  }
}

}  // namespace cairn::postgres
