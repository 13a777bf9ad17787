// A small pool of libpqxx connections that replaces broken ones and retries through a restart.
#pragma once

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <pqxx/pqxx>

#include <cairn/metrics.hpp>

namespace cairn::postgres {

class ConnectionPool {
 public:
  using Setup = std::function<void(pqxx::connection&)>;  // e.g. prepares statements

  // With `metrics`: cairn_db_pool_connections{state="in_use"|"idle"}, cairn_db_pool_max_connections
  // and cairn_db_pool_waits_total (acquisitions that waited for a connection).
  ConnectionPool(std::string url, size_t max_size, Setup setup, Metrics* metrics = nullptr);

  // Runs `work` on a pooled connection. A lost connection is dropped and `work` retried on a
  // fresh one with backoff, so callers must make `work` safe to repeat (appends are: ids dedupe).
  template <class Work>
  auto run(Work&& work) {
    for (int attempt = 0;; ++attempt) {
      auto connection = acquire();
      try {
        auto result = work(*connection);
        release(std::move(connection));
        return result;
      } catch (const pqxx::broken_connection&) {
        discard();
        if (attempt + 1 >= reconnect_attempts) throw;
      } catch (const pqxx::in_doubt_error&) {
        discard();
        if (attempt + 1 >= reconnect_attempts) throw;
      } catch (...) {
        if (connection->is_open())
          release(std::move(connection));
        else
          discard();
        throw;
      }
      backoff(attempt);
    }
  }

  static constexpr int reconnect_attempts = 8;

 private:
  std::unique_ptr<pqxx::connection> acquire();
  void release(std::unique_ptr<pqxx::connection> connection);
  void discard();
  static void backoff(int attempt);
  void report();  // the gauges, under mutex_

  struct Gauges {
    Gauge* in_use = nullptr;
    Gauge* idle = nullptr;
    Counter* waits = nullptr;
  };

  std::string url_;
  size_t max_size_;
  Setup setup_;
  std::mutex mutex_;
  std::condition_variable available_;
  std::vector<std::unique_ptr<pqxx::connection>> idle_;
  size_t open_ = 0;
  Gauges gauges_;
};

}  // namespace cairn::postgres
