#include "backends/postgres/connection_pool.hpp"

#include <algorithm>
#include <chrono>
#include <thread>

#include "backends/postgres/connect.hpp"

namespace cairn::postgres {
namespace {

// A Cairn session left idle inside a transaction (a handler stuck mid-batch, a hung client) holds
// the feed's horizon back for every consumer group in the cluster: end it after a minute. A
// timeout the operator already chose (server, database or role setting) is kept.
void limit_idle_transactions(pqxx::connection& connection) {
  pqxx::nontransaction tx(connection);
  tx.exec("SELECT set_config('idle_in_transaction_session_timeout', '60s', false) "
          "WHERE current_setting('idle_in_transaction_session_timeout') = '0'");
}

}  // namespace

ConnectionPool::ConnectionPool(std::string url, size_t max_size, Setup setup)
    : url_(std::move(url)), max_size_(std::max<size_t>(max_size, 1)), setup_(std::move(setup)) {}

std::unique_ptr<pqxx::connection> ConnectionPool::acquire() {
  {
    std::unique_lock lock(mutex_);
    available_.wait(lock, [&] { return !idle_.empty() || open_ < max_size_; });
    if (!idle_.empty()) {
      auto connection = std::move(idle_.back());
      idle_.pop_back();
      return connection;
    }
    ++open_;
  }
  try {
    auto connection = connect(url_);
    limit_idle_transactions(*connection);
    if (setup_) setup_(*connection);
    return connection;
  } catch (...) {
    discard();
    throw;
  }
}

void ConnectionPool::release(std::unique_ptr<pqxx::connection> connection) {
  {
    std::lock_guard lock(mutex_);
    idle_.push_back(std::move(connection));
  }
  available_.notify_one();
}

void ConnectionPool::discard() {
  {
    std::lock_guard lock(mutex_);
    --open_;
  }
  available_.notify_one();
}

void ConnectionPool::backoff(int attempt) {
  std::this_thread::sleep_for(std::chrono::milliseconds(50) * (1 << std::min(attempt, 5)));
}

}  // namespace cairn::postgres
