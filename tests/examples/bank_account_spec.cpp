// The bank_account example's rules with the test kit: decide and evolve alone, no runtime, no store.
#include <doctest/doctest.h>

#include <cairn/testing.hpp>

#include "examples/bank_account/account.hpp"

using cairn::testing::spec;

namespace {
auto open_account() { return spec(bank::account_actor()).given(bank::AccountOpened{"ann"}); }
auto closed_account() {
  return spec(bank::account_actor()).given(bank::AccountOpened{"ann"}, bank::AccountClosed{});
}
}  // namespace

TEST_CASE("bank: a new account takes no money and needs an owner") {
  spec(bank::account_actor()).when(bank::Deposit{10}).then_rejected("account_not_open", "the account is not open");
  spec(bank::account_actor()).when(bank::Withdraw{10}).then_rejected("account_not_open", "the account is not open");
  spec(bank::account_actor()).when(bank::CloseAccount{}).then_rejected("account_not_open", "the account is not open");
  spec(bank::account_actor()).when(bank::OpenAccount{""}).then_rejected("owner_missing", "owner must not be empty");
  spec(bank::account_actor()).when(bank::OpenAccount{"ann"}).then(bank::AccountOpened{"ann"});
}

TEST_CASE("bank: an open account takes positive amounts and never goes below zero") {
  open_account().when(bank::OpenAccount{"bob"}).then_rejected("account_already_open", "the account is already open");
  open_account().when(bank::Deposit{0}).then_rejected("amount_not_positive", "amount must be positive, got 0");
  open_account().when(bank::Deposit{-5}).then_rejected("amount_not_positive", "amount must be positive, got -5");
  open_account().when(bank::Withdraw{0}).then_rejected("amount_not_positive", "amount must be positive, got 0");
  open_account().when(bank::Deposit{100}).then(bank::Deposited{100});
  open_account()
      .given(bank::Deposited{100})
      .when(bank::Withdraw{150})
      .then_rejected("insufficient_funds", "the balance is 100, the withdrawal 150");
  open_account().given(bank::Deposited{100}).when(bank::Withdraw{100}).then(bank::Withdrawn{100});
}

TEST_CASE("bank: an account closes at a zero balance, and a closed account takes nothing") {
  open_account()
      .given(bank::Deposited{100})
      .when(bank::CloseAccount{})
      .then_rejected("balance_not_zero", "the balance must be 0 to close the account, it is 100");
  auto closing = open_account().given(bank::Deposited{100}, bank::Withdrawn{100});
  closing.when(bank::CloseAccount{}).then(bank::AccountClosed{});
  CHECK(closing.state().status == "closed");
  closed_account().when(bank::Deposit{10}).then_rejected("account_closed", "the account is closed");
  closed_account().when(bank::Withdraw{10}).then_rejected("account_closed", "the account is closed");
  closed_account().when(bank::CloseAccount{}).then_rejected("account_closed", "the account is closed");
  closed_account().when(bank::OpenAccount{"ann"}).then_rejected("account_closed", "the account is closed");
}

TEST_CASE("bank: the state is the fold of the events") {
  auto account = open_account().given(bank::Deposited{500}, bank::Withdrawn{120});
  account.when(bank::Deposit{30}).then(bank::Deposited{30});
  CHECK(account.state().owner == "ann");
  CHECK(account.state().balance == 410);
  CHECK(account.state().status == "open");
}
