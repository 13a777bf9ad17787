// The append's SQL functions plan index lookups even on a young log: a session plans a PL/pgSQL
// query once and keeps the plan, so one planned against an empty table would scan the whole log on
// every append until the next ANALYZE.
#include <doctest/doctest.h>

#include <string>

#include <pqxx/pqxx>

#include "tests/support/test_database.hpp"

using namespace cairn;

namespace {

// The plans auto_explain reports to this session (LOG messages sent to the client).
class Plans final : public pqxx::errorhandler {
 public:
  explicit Plans(pqxx::connection& c) : pqxx::errorhandler(c) {
    pqxx::nontransaction(c).exec0(
        "LOAD 'auto_explain'; SET auto_explain.log_min_duration = 0; SET auto_explain.log_nested_statements = on; "
        "SET client_min_messages = log");
  }
  bool operator()(const char message[]) noexcept override {
    text += message;
    return false;
  }
  std::string text;
};

}  // namespace

TEST_CASE("the append's functions use their indexes on an empty log, where a scan looks cheapest") {
  testing::TestDatabase db;
  pqxx::connection c(db.url());
  Plans plans(c);
  for (int seq = 1; seq <= 8; ++seq) {  // past the five custom plans, into the generic one the session keeps
    auto id = "00000000-0000-4000-8000-00000000000" + std::to_string(seq);
    auto row = R"([{"id": ")" + id + R"(", "stream_id": "plan-1", "seq": )" + std::to_string(seq) +
               R"(, "type": "t", "revision": 1, "payload": {}, "metadata": {}, "stream_hash": 7}])";
    pqxx::nontransaction tx(c);
    auto written = tx.exec_params("SELECT * FROM cairn.append_expected('{7}', $1::jsonb, $2::jsonb, $3::jsonb, '[]')",
                                  R"({"plan-1": )" + std::to_string(seq - 1) + "}", row,
                                  R"({"plan-1": )" + std::to_string(seq) + "}");
    REQUIRE(written.size() == 1);
    tx.exec_params("SELECT * FROM cairn.lock_for_append('{7}', '[\"plan-1\"]', $1::jsonb)", "[\"" + id + "\"]");
  }
  REQUIRE(plans.text.find("Index") != std::string::npos);  // the plans were reported at all
  CHECK(plans.text.find("Seq Scan on messages") == std::string::npos);
  CHECK(plans.text.find("Seq Scan on streams") == std::string::npos);
}
