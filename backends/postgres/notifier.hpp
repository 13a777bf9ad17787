// The notifier: tells other processes that this one appended (a coalesced NOTIFY), and wakes this
// process's runners when another one did (LISTEN). A hint only: runners still poll.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "backends/wakeup.hpp"

namespace cairn {

class Notifier {
 public:
  // `listen`: also wake local runners on other processes' appends (only worth it when consumers run).
  Notifier(std::string database_url, std::shared_ptr<Wakeup> wakeup, bool listen,
           std::function<void(const std::string&)> log);
  ~Notifier();  // stops both threads
  Notifier(const Notifier&) = delete;
  Notifier& operator=(const Notifier&) = delete;

  static constexpr const char* channel = "cairn_appended";

 private:
  void publish_loop();
  void listen_loop();

  std::string url_;
  std::shared_ptr<Wakeup> wakeup_;
  std::function<void(const std::string&)> log_;
  std::atomic<bool> stopping_{false};
  std::thread publisher_, listener_;
};

}  // namespace cairn
