#include "backends/postgres/notifier.hpp"

#include <pqxx/pqxx>

#include "backends/postgres/connect.hpp"

namespace cairn {
namespace {

class Receiver final : public pqxx::notification_receiver {
 public:
  Receiver(pqxx::connection& c, Wakeup& wakeup) : notification_receiver(c, Notifier::channel), wakeup_(wakeup) {}
  void operator()(const std::string&, int) override { wakeup_.notify(); }

 private:
  Wakeup& wakeup_;
};

}  // namespace

Notifier::Notifier(std::string database_url, std::shared_ptr<Wakeup> wakeup, bool listen,
                   std::function<void(const std::string&)> log)
    : url_(std::move(database_url)), wakeup_(std::move(wakeup)), log_(std::move(log)) {
  publisher_ = std::thread([this] { publish_loop(); });
  if (listen) listener_ = std::thread([this] { listen_loop(); });
}

Notifier::~Notifier() {
  stopping_ = true;
  wakeup_->notify();
  if (publisher_.joinable()) publisher_.join();
  if (listener_.joinable()) listener_.join();
}

// One NOTIFY per burst of appends, at most every few milliseconds, from its own session: NOTIFY
// serialises committing transactions, so appends themselves never carry one.
void Notifier::publish_loop() {
  std::unique_ptr<pqxx::connection> connection;
  while (!stopping_) {
    auto seen = wakeup_->epoch();
    if (wakeup_->take_publish()) {
      try {
        if (!connection) {
          connection = postgres::connect(url_);
          // A NOTIFY commits (it takes an xid); waiting for its WAL flush would double the
          // fsyncs of a writing process. A wake-up lost in a crash costs one poll interval.
          pqxx::nontransaction(*connection).exec0("SET synchronous_commit = off");
        }
        pqxx::nontransaction tx(*connection);
        tx.exec0(std::string("NOTIFY ") + channel);
      } catch (const std::exception&) {
        connection.reset();  // others fall back to polling; try again on the next append
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
      continue;
    }
    wakeup_->wait(seen, std::chrono::milliseconds(200));
  }
}

void Notifier::listen_loop() {
  while (!stopping_) {
    try {
      auto connection = postgres::connect(url_);
      Receiver receiver(*connection, *wakeup_);
      while (!stopping_) connection->await_notification(0, 200000);
    } catch (const std::exception& e) {
      if (log_) log_(std::string("LISTEN failed, polling until it works again: ") + e.what());
      for (int i = 0; i < 10 && !stopping_; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
}

}  // namespace cairn
