// Decisions: rejection codes (checked, defaulted, recorded in cairn.command_rejected, old logs
// still read).
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "runtime/testing.hpp"

using namespace cairn;

TEST_CASE("a rejection carries a code and a text; reject(text) alone gets the code 'rejected'") {
  auto coded = reject("insufficient_funds", "the balance is 30, the withdrawal 50");
  REQUIRE(coded.rejected());
  CHECK(coded.rejection_code() == "insufficient_funds");
  CHECK(coded.rejection() == "the balance is 30, the withdrawal 50");
  CHECK(coded.drafts().empty());
  auto plain = reject("the cart is empty");
  CHECK(plain.rejection_code() == "rejected");
  CHECK(plain.rejection() == "the cart is empty");
  CHECK(reject("a.b-c_9", "").rejection_code() == "a.b-c_9");
  CHECK(reject(std::string(64, 'x'), "").rejection_code().size() == 64);
}

TEST_CASE("a code that is not a short identifier is a programming error: BadInput naming it") {
  std::vector<std::string> bad = {"", "Insufficient_funds", "insufficient funds", "no/slash", "caf\xc3\xa9",
                                  std::string(65, 'x')};
  for (const auto& code : bad) {
    auto named = "rejection code '" + code + "' is not 1 to 64";
    CHECK_THROWS_WITH_AS(reject(code, "text"), doctest::Contains(named.c_str()), BadInput);
  }
}

TEST_CASE("cairn.command_rejected carries the code; one recorded before codes existed still decodes, without one") {
  Rejection rejection{"id-1", "bank.withdraw", "the balance is 30", "insufficient_funds"};
  auto payload = to_payload(rejection);
  CHECK(payload == Json{{"command_id", "id-1"},
                        {"command_type", "bank.withdraw"},
                        {"reason", "the balance is 30"},
                        {"code", "insufficient_funds"}});
  CHECK(from_payload<Rejection>(payload).code == "insufficient_funds");
  auto old = from_payload<Rejection>(Json{{"command_id", "id-0"}, {"command_type", "bank.withdraw"}, {"reason", "no"}});
  CHECK(old.reason == "no");
  CHECK_FALSE(old.code.has_value());
  CHECK(MessageTraits<Rejection>::revision == 1);
}
