// The test kit's PostgreSQL variant: an SQL projector's handlers run against a real database
// (a test's own), then its rows are checked. Apart from the test kit, so that only code that
// tests SQL projectors includes libpqxx.
//
//   cairn::testing::SqlProjectorSpecification balances(bank::balances_projector(), database_url);
//   balances.given("account-1", bank::AccountOpened{"ann"}, bank::Deposited{100})
//       .then_rows("SELECT account_id, balance FROM public.bank_balances", {{"account-1", "100"}});
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include <cairn/sql_projector.hpp>
#include <cairn/testing.hpp>

namespace cairn::testing {

class SqlProjectorSpecification {
 public:
  using Rows = std::vector<std::vector<std::string>>;  // every column as text, NULL as "NULL"

  // Creates the projector's missing tables in the database, as `cairn migrate --app` would.
  SqlProjectorSpecification(std::shared_ptr<SqlProjector> projector, std::string database_url);

  // Events appended to `stream_id`, in order, applied in one transaction.
  template <TypedMessage... Es>
  SqlProjectorSpecification& given(const std::string& stream_id, const Es&... events) {
    apply(stream_id, {Draft::of(events)...});
    return *this;
  }

  // `query` returns exactly `expected`, in its order (give it an ORDER BY).
  SqlProjectorSpecification& then_rows(const std::string& query, const Rows& expected) {
    auto got = rows(query);
    if (got != expected)
      throw SpecificationFailed("projector " + projector_->options().group + ": expected " + query + " to return\n" +
                                show(expected) + "but it returned\n" + show(got));
    return *this;
  }

  Rows rows(const std::string& query) const;

 private:
  void apply(const std::string& stream_id, const std::vector<Draft>& drafts);
  static std::string show(const Rows& rows) {
    if (rows.empty()) return "  (no rows)\n";
    std::string out;
    for (const auto& row : rows) {
      out += " ";
      for (const auto& field : row) out += " " + field;
      out += "\n";
    }
    return out;
  }

  std::shared_ptr<SqlProjector> projector_;
  std::string url_;
  std::map<std::string, int64_t> seqs_;
};

}  // namespace cairn::testing
