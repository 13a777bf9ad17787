// The bank_account example on the backend under test: its rules, snapshots, time travel and what-if;
// on PostgreSQL also its balances table, exactly once under concurrent commands and after a reset.
#include <doctest/doctest.h>

#include <map>
#include <thread>

#include <pqxx/pqxx>

#include "examples/bank_account/account.hpp"
#include <cairn/runtime.hpp>
#include "tests/support/backend.hpp"
#include "tests/support/runtimes.hpp"

using namespace cairn;
using cairn::testing::backend_is_postgres;

namespace {

// The database outlives each test and the table is not Cairn's, so fresh_backend_url() keeps it.
void drop_table(const std::string& url) {
  pqxx::connection c(url);
  pqxx::work tx(c);
  tx.exec0("DROP TABLE IF EXISTS public.bank_balances");
  tx.commit();
}

struct Bank {
  std::string url = testing::fresh_backend_url();
  std::unique_ptr<Runtime> runtime;

  Bank() {
    runtime = testing::backend_runtime(url);
    runtime->add(bank::account_actor());
    // The SQL projector needs the PostgreSQL store; the memory backend runs the actor alone.
    if (backend_is_postgres()) {
      drop_table(url);
      runtime->add(bank::balances_projector());
      runtime->migrate();
    }
  }

  template <class Command>
  void ok(const std::string& account, const Command& command) {
    auto result = runtime->handle(account, command);
    INFO(account << ": " << result.error);
    REQUIRE(result.ok());
  }
  // "code: text"
  template <class Command>
  std::string rejection(const std::string& account, const Command& command) {
    auto result = runtime->handle(account, command);
    CHECK(result.status == HandleResult::Status::rejected);
    return result.rejection_code + ": " + result.error;
  }
  int64_t balance(const std::string& account, const StreamRange& upto = {}) {
    return runtime->load<bank::Account>(account, upto).balance;
  }
};

StreamRange upto_seq(int64_t seq) { return {0, seq, std::nullopt}; }
StreamRange upto_time(Timestamp t) { return {0, std::nullopt, t}; }

}  // namespace

// The rules themselves are specified with the test kit (bank_account_spec.cpp); here, what the
// runtime adds on this backend: a rejection appends nothing, and a payload of the wrong type is invalid.
TEST_CASE("a rejected command appends nothing, and a payload of the wrong type is invalid") {
  Bank bank;
  const std::string id = "account-rules";
  CHECK(bank.rejection(id, bank::Deposit{10}) == "account_not_open: the account is not open");
  CHECK(bank.runtime->store().head_seq(id) == 0);
  bank.ok(id, bank::OpenAccount{"ann"});
  bank.ok(id, bank::Deposit{100});
  auto refused = bank.runtime->handle(id, bank::Withdraw{150});
  CHECK(refused.status == HandleResult::Status::rejected);
  CHECK(refused.rejection_code == "insufficient_funds");
  CHECK(bank.runtime->store().head_seq(id) == 4);

  auto wrong = bank.runtime->handle(id, make_message(id, "bank.deposit", {{"amount", "ten"}}));
  CHECK(wrong.status == HandleResult::Status::invalid);
  CHECK(wrong.error.find("bank.deposit: field 'amount' has the wrong type") != std::string::npos);
  CHECK(bank.runtime->store().head_seq(id) == 4);
}

TEST_CASE("a sequence of commands: the events it appends and the state they fold to") {
  Bank bank;
  const std::string id = "account-17";
  CHECK(bank.runtime->state_json(id) == Json{{"owner", ""}, {"balance", 0}, {"status", "new"}});
  bank.ok(id, bank::OpenAccount{"ann"});
  bank.ok(id, bank::Deposit{500});
  bank.ok(id, bank::Withdraw{120});
  auto last = bank.runtime->handle(id, bank::Deposit{30});
  REQUIRE(last.ok());
  REQUIRE(last.events.size() == 1);
  CHECK(last.events[0].type == "bank.deposited");
  CHECK(last.events[0].payload == Json{{"amount", 30}});
  CHECK(last.seq == 8);

  std::vector<std::string> types;
  for (const auto& m : bank.runtime->store().read_stream(id)) types.push_back(m.type);
  CHECK(types == std::vector<std::string>{"bank.open_account", "bank.account_opened", "bank.deposit", "bank.deposited",
                                          "bank.withdraw", "bank.withdrawn", "bank.deposit", "bank.deposited"});
  CHECK(bank.runtime->state_json(id) == Json{{"owner", "ann"}, {"balance", 410}, {"status", "open"}});
}

TEST_CASE("snapshots every 50 events (100 stored messages): the snapshot path gives the state of a full replay") {
  Bank bank;
  const std::string id = "account-busy";
  bank.ok(id, bank::OpenAccount{"ann"});
  for (int i = 1; i <= 120; ++i) bank.ok(id, bank::Deposit{i});
  REQUIRE(bank.runtime->store().head_seq(id) == 242);

  // The last multiple of 100 crossed is 200: the command and event of deposit 99 (the 100th event).
  auto snapshot = bank.runtime->store().load_snapshot(id);
  REQUIRE(snapshot.has_value());
  CHECK(snapshot->seq == 200);
  CHECK(snapshot->state == Json{{"owner", "ann"}, {"balance", 99 * 100 / 2}, {"status", "open"}});
  // Bounded loads never use a snapshot: this one folds the first 200 messages.
  CHECK(snapshot->state == bank.runtime->state_json(id, upto_seq(200)));

  auto from_snapshot = bank.runtime->state_json(id);
  auto full_replay = bank.runtime->state_json(id, upto_seq(242));
  CHECK(from_snapshot == full_replay);
  CHECK(from_snapshot["balance"] == 120 * 121 / 2);
  CHECK(bank.rejection(id, bank::Withdraw{7261}) == "insufficient_funds: the balance is 7260, the withdrawal 7261");

  for (int i = 0; i < 4; ++i) bank.ok(id, bank::Deposit{1});  // seq 250: not a multiple of 100
  CHECK(bank.runtime->store().load_snapshot(id)->seq == 200);
}

TEST_CASE("time travel: the balance as of a seq and as of a time") {
  Bank bank;
  const std::string id = "account-history";
  bank.ok(id, bank::OpenAccount{"ann"});  // seq 1-2
  bank.ok(id, bank::Deposit{100});        // 3-4
  bank.ok(id, bank::Deposit{50});         // 5-6
  bank.ok(id, bank::Withdraw{30});        // 7-8

  CHECK(bank.runtime->load<bank::Account>(id, upto_seq(0)).status == "new");
  CHECK(bank.runtime->load<bank::Account>(id, upto_seq(2)).status == "open");
  CHECK(bank.balance(id, upto_seq(2)) == 0);
  CHECK(bank.balance(id, upto_seq(4)) == 100);
  CHECK(bank.balance(id, upto_seq(5)) == 100);  // the second deposit's command, not yet its event
  CHECK(bank.balance(id, upto_seq(6)) == 150);
  CHECK(bank.balance(id, upto_seq(8)) == 120);

  auto stored = bank.runtime->store().read_stream(id);
  REQUIRE(stored.size() == 8);
  CHECK(bank.balance(id, upto_time(stored[3].created_at)) == 100);
  CHECK(bank.balance(id, upto_time(stored[5].created_at)) == 150);
  CHECK(bank.balance(id, upto_time(stored[7].created_at)) == 120);
  CHECK(bank.runtime->load<bank::Account>(id, upto_time(stored[0].created_at - std::chrono::seconds(1))).status ==
        "new");
}

TEST_CASE("what-if: hypothetical deposits give a new balance and leave the log as it is") {
  Bank bank;
  const std::string id = "account-maybe";
  bank.ok(id, bank::OpenAccount{"ann"});
  bank.ok(id, bank::Deposit{120});
  auto maybe = bank.runtime->what_if<bank::Account>(id, {Draft::of(bank::Deposited{1000}), Draft::of(bank::Deposited{1})});
  CHECK(maybe.balance == 1121);
  CHECK(maybe.status == "open");
  CHECK(bank.runtime->store().head_seq(id) == 4);
  CHECK(bank.balance(id) == 120);
}

// PostgreSQL tables: this part is built into the PostgreSQL suite only (the memory store has no SQL).
#ifdef CAIRN_TEST_POSTGRES
namespace {

struct Row {
  int64_t balance = 0;
  int64_t events = 0;
};
using Balances = std::map<std::string, Row>;  // by account

Balances balances_table(const std::string& url) {
  pqxx::connection c(url);
  pqxx::read_transaction tx(c);
  Balances out;
  for (const auto& r : tx.exec("SELECT account_id, balance, events FROM public.bank_balances"))
    out[r[0].c_str()] = {r[1].as<int64_t>(), r[2].as<int64_t>()};
  return out;
}

// What the table should hold: each account's events, folded from the log.
Balances fold_of_log(Runtime& runtime, const std::vector<std::string>& accounts) {
  Balances out;
  for (const auto& account : accounts)
    for (const auto& m : runtime.store().read_stream(account)) {
      if (m.type == "bank.open_account" || m.type == "bank.deposit" || m.type == "bank.withdraw" ||
          m.type == "bank.close_account")
        continue;
      auto& row = out[account];
      if (m.type == "bank.deposited") row.balance += m.payload.at("amount").get<int64_t>();
      if (m.type == "bank.withdrawn") row.balance -= m.payload.at("amount").get<int64_t>();
      row.events += 1;
    }
  return out;
}

// One line per account, so that a failed comparison shows the difference.
std::string render(const Balances& balances) {
  std::string out;
  for (const auto& [account, row] : balances)
    out += account + ": balance " + std::to_string(row.balance) + ", " + std::to_string(row.events) + " events\n";
  return out;
}

}  // namespace

TEST_CASE("public.bank_balances is the fold of the log under concurrent commands, and a reset rebuilds it") {
  Bank bank;
  bank.runtime->start_consumers(testing::quiet_workers());
  std::vector<std::string> accounts;
  for (int a = 0; a < 6; ++a) {
    accounts.push_back("account-" + std::to_string(a));
    bank.ok(accounts.back(), bank::OpenAccount{"owner " + std::to_string(a)});
  }
  // Four clients interleave deposits and withdrawals on every account; overdrafts are rejected.
  std::vector<std::thread> clients;
  for (int c = 0; c < 4; ++c)
    clients.emplace_back([&, c] {
      for (int i = 0; i < 60; ++i) {
        const auto& account = accounts[(c + i) % accounts.size()];
        auto result = i % 3 == 2 ? bank.runtime->handle(account, bank::Withdraw{25 + c})
                                 : bank.runtime->handle(account, bank::Deposit{10 + i});
        CHECK((result.ok() || result.status == HandleResult::Status::rejected));
      }
    });
  for (auto& t : clients) t.join();
  auto& last = accounts.back();
  bank.ok(last, bank::Deposit{5});  // so that there is something to take out before closing
  bank.ok(last, bank::Withdraw{bank.balance(last)});
  bank.ok(last, bank::CloseAccount{});

  auto caught_up = [&] {
    for (const auto& account : accounts)
      if (!bank.runtime->wait_for("bank.balances", account, bank.runtime->store().head_seq(account),
                                  std::chrono::seconds(20)))
        return false;
    return true;
  };
  REQUIRE(caught_up());
  auto fold = fold_of_log(*bank.runtime, accounts);
  auto table = render(balances_table(bank.url));
  CHECK(fold.size() == accounts.size());
  CHECK(table == render(fold));  // the events column shows that no event was applied twice
  for (const auto& account : accounts) CHECK(fold[account].balance == bank.balance(account));
  CHECK(fold[last].balance == 0);

  bank.runtime->stop_consumers();
  bank.runtime->reset_group("bank.balances");
  CHECK(balances_table(bank.url).empty());
  bank.runtime->start_consumers(testing::quiet_workers());
  REQUIRE(caught_up());
  CHECK(render(balances_table(bank.url)) == table);
  bank.runtime->shutdown();
}

#endif  // CAIRN_TEST_POSTGRES
