#include "tests/support/test_database.hpp"

#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <random>
#include <stdexcept>

#include <pqxx/pqxx>

#include "backends/postgres/migrations.hpp"

namespace cairn::testing {

void execute_sql(const std::string& url, const std::string& statement) {
  pqxx::connection c(url);
  pqxx::work tx(c);
  tx.exec0(statement);
  tx.commit();
}

long query_number(const std::string& url, const std::string& query) {
  pqxx::connection c(url);
  pqxx::read_transaction tx(c);
  return tx.exec1(query)[0].as<long>();
}

std::string database_url_for(const std::string& base_url, const std::string& name) {
  auto scheme = base_url.find("://");
  if (scheme == std::string::npos) throw std::runtime_error("CAIRN_TEST_DATABASE_URL must be a postgresql:// URL");
  auto slash = base_url.find('/', scheme + 3);
  auto query = base_url.find('?', scheme + 3);
  std::string head = base_url.substr(0, std::min(slash, query));
  std::string tail = query == std::string::npos ? "" : base_url.substr(query);
  return head + "/" + name + tail;
}

TestDatabase::TestDatabase(bool migrated) {
  const char* base = std::getenv("CAIRN_TEST_DATABASE_URL");
  if (!base || !*base)
    throw std::runtime_error(
        "CAIRN_TEST_DATABASE_URL is not set: run tools/test (it starts a throwaway PostgreSQL), or export the URL "
        "of a server where this user may create databases");
  admin_url_ = base;
  static std::atomic<int> counter{0};
  std::random_device random;
  name_ = "cairn_test_" + std::to_string(getpid()) + "_" + std::to_string(counter++) + "_" +
          std::to_string(random() % 100000);
  url_ = database_url_for(admin_url_, name_);
  pqxx::connection admin(admin_url_);
  pqxx::nontransaction tx(admin);
  tx.exec0("CREATE DATABASE " + tx.quote_name(name_));
  if (migrated) postgres::migrate(url_);
}

TestDatabase::~TestDatabase() {
  try {
    pqxx::connection admin(admin_url_);
    pqxx::nontransaction tx(admin);
    tx.exec0("DROP DATABASE IF EXISTS " + tx.quote_name(name_) + " WITH (FORCE)");
  } catch (...) {
    // The throwaway server is removed after the run anyway.
  }
}

void TestDatabase::truncate() const {
  pqxx::connection c(url_);
  pqxx::work tx(c);
  tx.exec0(
      "TRUNCATE cairn.messages, cairn.streams, cairn.snapshots, cairn.scheduled_messages, cairn.consumer_groups, "
      "cairn.group_slices, cairn.group_streams, cairn.projections RESTART IDENTITY");
  tx.commit();
}

}  // namespace cairn::testing
