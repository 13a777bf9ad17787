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

ConnectionPool::ConnectionPool(std::string url, size_t max_size, Setup setup, Metrics* metrics)
    : url_(std::move(url)), max_size_(std::max<size_t>(max_size, 1)), setup_(std::move(setup)) {
  if (!metrics) return;
  auto& connections = metrics->gauge("cairn_db_pool_connections",
                                     "PostgreSQL connections of the store's pool, in use or idle", {"state"});
  gauges_ = {&connections.labels({"in_use"}), &connections.labels({"idle"}),
             &metrics->counter("cairn_db_pool_waits_total",
                               "Times a caller waited for a connection because the pool was at its maximum")
                  .labels()};
  metrics->gauge("cairn_db_pool_max_connections", "The store's pool opens at most this many connections")
      .labels()
      .set(static_cast<double>(max_size_));
}

void ConnectionPool::report() {
  if (!gauges_.in_use) return;
  gauges_.in_use->set(static_cast<double>(open_ - idle_.size()));
  gauges_.idle->set(static_cast<double>(idle_.size()));
}

std::unique_ptr<pqxx::connection> ConnectionPool::acquire() {
  {
    std::unique_lock lock(mutex_);
    auto ready = [&] { return !idle_.empty() || open_ < max_size_; };
    if (!ready() && gauges_.waits) gauges_.waits->inc();
    available_.wait(lock, ready);
    if (!idle_.empty()) {
      auto connection = std::move(idle_.back());
      idle_.pop_back();
      report();
      return connection;
    }
    ++open_;
    report();
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
    report();
  }
  available_.notify_one();
}

void ConnectionPool::discard() {
  {
    std::lock_guard lock(mutex_);
    --open_;
    report();
  }
  available_.notify_one();
}

void ConnectionPool::backoff(int attempt) {
  std::this_thread::sleep_for(std::chrono::milliseconds(50) * (1 << std::min(attempt, 5)));
}

}  // namespace cairn::postgres
