// A bank account (streams "account-<id>"): open, deposit, withdraw, close; balances kept in PostgreSQL.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include <cairn/application.hpp>
#include <cairn/sql_projector.hpp>

namespace bank {

// Commands. Amounts are integer cents.
struct OpenAccount {
  std::string owner;
};
struct Deposit {
  int64_t amount = 0;
};
struct Withdraw {
  int64_t amount = 0;
};
struct CloseAccount {};

// Events
struct AccountOpened {
  std::string owner;
};
struct Deposited {
  int64_t amount = 0;
};
struct Withdrawn {
  int64_t amount = 0;
};
struct AccountClosed {};

struct Account {
  std::string owner;
  int64_t balance = 0;
  std::string status = "new";  // "new" until opened, then "open", then "closed"
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Account, owner, balance, status)

}  // namespace bank

CAIRN_MESSAGE(bank::OpenAccount, "bank.open_account", 1, owner)
CAIRN_MESSAGE(bank::Deposit, "bank.deposit", 1, amount)
CAIRN_MESSAGE(bank::Withdraw, "bank.withdraw", 1, amount)
CAIRN_MESSAGE(bank::CloseAccount, "bank.close_account", 1)
CAIRN_MESSAGE(bank::AccountOpened, "bank.account_opened", 1, owner)
CAIRN_MESSAGE(bank::Deposited, "bank.deposited", 1, amount)
CAIRN_MESSAGE(bank::Withdrawn, "bank.withdrawn", 1, amount)
CAIRN_MESSAGE(bank::AccountClosed, "bank.account_closed", 1)

namespace bank {

// The rejection of money in or out of an account in this state, if it cannot take any.
inline std::optional<cairn::Decision> not_usable(const Account& account) {
  if (account.status == "new") return cairn::reject("account_not_open", "the account is not open");
  if (account.status == "closed") return cairn::reject("account_closed", "the account is closed");
  return std::nullopt;
}

inline std::optional<cairn::Decision> not_positive(int64_t amount) {
  if (amount > 0) return std::nullopt;
  return cairn::reject("amount_not_positive", "amount must be positive, got " + std::to_string(amount));
}

inline cairn::ActorDefinition<Account> account_actor() {
  using cairn::Decision;
  return cairn::actor<Account>("account")
      .decide<OpenAccount>([](const Account& account, const OpenAccount& c) -> Decision {
        if (account.status == "open") return cairn::reject("account_already_open", "the account is already open");
        if (account.status == "closed") return cairn::reject("account_closed", "the account is closed");
        if (c.owner.empty()) return cairn::reject("owner_missing", "owner must not be empty");
        return AccountOpened{c.owner};
      })
      .decide<Deposit>([](const Account& account, const Deposit& c) -> Decision {
        if (auto refused = not_usable(account)) return *refused;
        if (auto refused = not_positive(c.amount)) return *refused;
        return Deposited{c.amount};
      })
      .decide<Withdraw>([](const Account& account, const Withdraw& c) -> Decision {
        if (auto refused = not_usable(account)) return *refused;
        if (auto refused = not_positive(c.amount)) return *refused;
        if (c.amount > account.balance)
          return cairn::reject("insufficient_funds", "the balance is " + std::to_string(account.balance) +
                                                         ", the withdrawal " + std::to_string(c.amount));
        return Withdrawn{c.amount};
      })
      .decide<CloseAccount>([](const Account& account, const CloseAccount&) -> Decision {
        if (auto refused = not_usable(account)) return *refused;
        // Money is never closed away: the owner takes it out first.
        if (account.balance != 0)
          return cairn::reject("balance_not_zero",
                               "the balance must be 0 to close the account, it is " + std::to_string(account.balance));
        return AccountClosed{};
      })
      .evolve<AccountOpened>([](Account& account, const AccountOpened& e) {
        account.owner = e.owner;
        account.status = "open";
      })
      .evolve<Deposited>([](Account& account, const Deposited& e) { account.balance += e.amount; })
      .evolve<Withdrawn>([](Account& account, const Withdrawn& e) { account.balance -= e.amount; })
      .evolve<AccountClosed>([](Account& account, const AccountClosed&) { account.status = "closed"; })
      // Every 50 events: counted in stored messages, and each command is stored with its one event.
      .snapshot_every(100);
}

// Adds `delta` to the account's balance and counts one more event; the first event creates the row.
inline void apply_to_balance(pqxx::work& tx, const std::string& account_id, int64_t delta) {
  tx.exec_params(
      "INSERT INTO public.bank_balances VALUES ($1, $2, 1) ON CONFLICT (account_id) DO UPDATE SET "
      "balance = public.bank_balances.balance + excluded.balance, events = public.bank_balances.events + 1",
      account_id, delta);
}

// public.bank_balances(account_id, balance, events): one row per account stream, exactly once (needs PostgreSQL).
inline std::shared_ptr<cairn::SqlProjector> balances_projector() {
  auto projector = cairn::sql_projector("bank.balances");
  projector
      ->table("public.bank_balances",
              "CREATE TABLE IF NOT EXISTS public.bank_balances (account_id text PRIMARY KEY, balance bigint NOT NULL, "
              "events bigint NOT NULL)")
      .on<AccountOpened>([](pqxx::work& tx, const AccountOpened&, const cairn::Message& m) {
        apply_to_balance(tx, m.stream_id, 0);
      })
      .on<Deposited>([](pqxx::work& tx, const Deposited& e, const cairn::Message& m) {
        apply_to_balance(tx, m.stream_id, e.amount);
      })
      .on<Withdrawn>([](pqxx::work& tx, const Withdrawn& e, const cairn::Message& m) {
        apply_to_balance(tx, m.stream_id, -e.amount);
      })
      .on<AccountClosed>([](pqxx::work& tx, const AccountClosed&, const cairn::Message& m) {
        apply_to_balance(tx, m.stream_id, 0);
      })
      .on_reset([](pqxx::work& tx) { tx.exec0("TRUNCATE public.bank_balances"); });
  return projector;
}

}  // namespace bank
