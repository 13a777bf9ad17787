// The append's SQL functions plan index lookups even on a young log: a session plans a PL/pgSQL
// query once and keeps the plan, so one planned against an empty table would scan the whole log on
// every append until the next ANALYZE. And on an old log an append reads only its own streams' rows:
// a join planned against thousands of streams would read them all on every append.
#include <doctest/doctest.h>

#include <algorithm>
#include <regex>
#include <string>

#include <pqxx/pqxx>

#include "tests/support/test_database.hpp"

using namespace cairn;

namespace {

// The plans auto_explain reports to this session (LOG messages sent to the client).
// With `analyze`, each plan node also says how many rows it returned.
class Plans final : public pqxx::errorhandler {
 public:
  explicit Plans(pqxx::connection& c, bool analyze = false) : pqxx::errorhandler(c) {
    pqxx::nontransaction(c).exec0(
        "LOAD 'auto_explain'; SET auto_explain.log_min_duration = 0; SET auto_explain.log_nested_statements = on; "
        "SET client_min_messages = log; SET auto_explain.log_analyze = " +
        std::string(analyze ? "on" : "off"));
  }
  bool operator()(const char message[]) noexcept override {
    text += message;
    return false;
  }
  std::string text;
};

// The most rows any reported plan node read from `table`, aliased or not (from EXPLAIN ANALYZE's
// "actual ... rows=N"), or -1 when no node read it.
long most_rows_read(const std::string& plans, const std::string& table) {
  static const std::regex node(R"( on (\w+)(?: \w+)? +\(cost=[^)]*\) \(actual time=[^ ]+ rows=(\d+))");
  long most = -1;
  for (std::sregex_iterator m(plans.begin(), plans.end(), node), end; m != end; ++m)
    if ((*m)[1] == table) most = std::max(most, std::stol((*m)[2]));
  return most;
}

// Appends `stream`'s event `seq` as the store does: first in one statement (cairn.append_expected),
// then, for a second event, the careful way (the streams' locks and heads, then the write).
void append_both_ways(pqxx::connection& c, const std::string& stream, int seq) {
  auto event = [&](int n) {
    auto id = "00000000-0000-4000-8000-" + std::string(11 - std::to_string(n).size(), '0') + "1" + std::to_string(n);
    auto row = R"([{"id": ")" + id + R"(", "stream_id": ")" + stream + R"(", "seq": )" + std::to_string(n) +
               R"(, "type": "t", "revision": 1, "payload": {}, "metadata": {}, "stream_hash": 7}])";
    return std::pair{id, row};
  };
  auto heads = [&](int n) { return R"({")" + stream + R"(": )" + std::to_string(n) + "}"; };
  auto [id, row] = event(seq);
  {
    pqxx::nontransaction tx(c);
    auto written = tx.exec_params("SELECT * FROM cairn.append_expected('{7}', $1::jsonb, $2::jsonb, $3::jsonb, '[]')",
                                  heads(seq - 1), row, heads(seq));
    REQUIRE(written.size() == 1);
  }
  auto [careful_id, careful_row] = event(seq + 1);
  pqxx::work tx(c);
  tx.exec_params("SELECT * FROM cairn.lock_for_append('{7}', $1::jsonb, $2::jsonb)", "[\"" + stream + "\"]",
                 "[\"" + careful_id + "\"]");
  REQUIRE(tx.exec_params("SELECT * FROM cairn.write_messages($1::jsonb, $2::jsonb, '[]')", careful_row, heads(seq + 1))
              .size() == 1);
  tx.commit();
}

}  // namespace

TEST_CASE("the append's functions use their indexes on an empty log, where a scan looks cheapest") {
  testing::TestDatabase db;
  pqxx::connection c(db.url());
  Plans plans(c);
  // Past the five custom plans, into the generic one the session keeps.
  for (int seq = 1; seq <= 16; seq += 2) append_both_ways(c, "plan-1", seq);
  REQUIRE(plans.text.find("Index") != std::string::npos);  // the plans were reported at all
  CHECK(plans.text.find("Seq Scan on messages") == std::string::npos);
  CHECK(plans.text.find("Seq Scan on streams") == std::string::npos);
}

TEST_CASE("an append reads only its own stream's head, however many streams there are") {
  testing::TestDatabase db;
  // The appended stream sorts after every other: a merge join over the heads would read them all.
  testing::execute_sql(db.url(),
                       "INSERT INTO cairn.streams (stream_id, head_seq) "
                       "SELECT 'other-' || lpad(g::text, 5, '0'), 1 FROM generate_series(1, 5000) g");
  testing::execute_sql(db.url(), "ANALYZE cairn.streams");
  pqxx::connection c(db.url());
  Plans plans(c, true);
  for (int seq = 1; seq <= 16; seq += 2) append_both_ways(c, "plan-last", seq);
  REQUIRE(most_rows_read(plans.text, "streams") >= 0);  // the plans were reported at all
  CHECK(most_rows_read(plans.text, "streams") <= 1);
  CHECK(most_rows_read(plans.text, "messages") <= 1);
}
