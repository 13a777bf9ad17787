// A fresh, migrated PostgreSQL database for a test, made from CAIRN_TEST_DATABASE_URL and dropped afterwards.
#pragma once

#include <string>

namespace cairn::testing {

class TestDatabase {
 public:
  // Fails (throws) when CAIRN_TEST_DATABASE_URL is unset or unreachable: PostgreSQL tests never skip.
  explicit TestDatabase(bool migrated = true);
  ~TestDatabase();
  TestDatabase(const TestDatabase&) = delete;
  TestDatabase& operator=(const TestDatabase&) = delete;

  const std::string& url() const { return url_; }
  const std::string& name() const { return name_; }
  // Empties every Cairn table, keeping the schema.
  void truncate() const;

 private:
  std::string admin_url_;
  std::string name_;
  std::string url_;
};

// Runs one SQL statement in a transaction of its own: to set up what Cairn would not write itself.
void execute_sql(const std::string& url, const std::string& statement);
// The number a query returns (first column of the first row).
long query_number(const std::string& url, const std::string& query);

// The URL of the server's database `name` (the path of CAIRN_TEST_DATABASE_URL replaced).
std::string database_url_for(const std::string& base_url, const std::string& name);

}  // namespace cairn::testing
