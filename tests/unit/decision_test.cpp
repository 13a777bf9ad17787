// Decisions: rejection codes (checked, defaulted, recorded in cairn.command_rejected, old logs
// still read) and Multi decisions, whose events each see the state the ones before them produce.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include <cairn/testing.hpp>
#include "tests/support/discount_cart.hpp"

using namespace cairn;
using cairn::testing::spec;
using cairn::testing::SpecificationFailed;

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

TEST_CASE("a Multi decision: the discount is decided on the total the added item produced") {
  using namespace discount_cart;
  // 60.00 alone stays under 100.00: one event.
  spec(actor()).when(AddItem{"tea", 6000}).then(ItemAdded{"tea", 6000});
  // 60.00 + 50.00 crosses 100.00 only once the item is added: the decision sees that and grants the discount.
  auto crossed = spec(actor()).given(ItemAdded{"tea", 6000}).when(AddItem{"cake", 5000});
  crossed.then(ItemAdded{"cake", 5000}, DiscountGranted{10});
  CHECK(crossed.state().total_cents == 11000);
  CHECK(crossed.state().items == 2);
  CHECK(crossed.state().discount_percent == 10);
  // Already granted: not again.
  spec(actor()).given(ItemAdded{"tea", 11000}, DiscountGranted{10}).when(AddItem{"cake", 100}).then(ItemAdded{"cake", 100});
}

TEST_CASE("a Multi decision is all or nothing: a rejection after an emit keeps none of its events") {
  using namespace discount_cart;
  auto refused = spec(actor()).given(ItemAdded{"tv", 95000}).when(AddItem{"radio", 6000});
  refused.then_rejected("over_limit", "the total would be 101000");
  CHECK(refused.state().total_cents == 95000);  // the working copy the rule read is dropped with the events
  spec(actor()).when(AddItem{"free", 0}).then_rejected("price_not_positive", "");
  CHECK_THROWS_WITH_AS(spec(actor()).given(ItemAdded{"tv", 95000}).when(AddItem{"radio", 6000}).then(ItemAdded{"radio", 6000}),
                       doctest::Contains("but the command was rejected (over_limit): the total would be 101000"),
                       SpecificationFailed);
}

namespace {

struct Note {
  std::string text;
};
struct Noted {
  std::string text;
};
struct Notes {
  int count = 0;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Notes, count)

}  // namespace

CAIRN_MESSAGE(Note, "test.note", 1, text)
CAIRN_MESSAGE(Noted, "test.noted", 1, text)

TEST_CASE("a Multi decision that emits after rejecting is a programming error, not a silent rejection") {
  auto notes = cairn::actor<Notes>("notes")
                   .decide<Note>([](Multi<Notes>& decision, const Note& c) {
                     decision.reject("closed", "no more notes");
                     decision.emit(Noted{c.text});
                   })
                   .evolve<Noted>([](Notes& n, const Noted&) { n.count += 1; });
  CHECK_THROWS_WITH_AS(spec(notes).when(Note{"hi"}), doctest::Contains("emit after reject"), std::logic_error);
}
