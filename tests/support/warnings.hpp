// The warnings a runtime's workers log, kept for a test to look for one.
#pragma once

#include <algorithm>
#include <mutex>
#include <string>
#include <vector>

#include <cairn/log.hpp>

namespace cairn::testing {

class Warnings {
 public:
  // For WorkerOptions::log; the Warnings must outlive the workers.
  LogSink sink() {
    return [this](const LogRecord& r) {
      if (r.level != LogLevel::warn) return;
      std::lock_guard lock(mutex_);
      lines_.push_back(r.message);
    };
  }
  // Whether a warning contains `text`.
  bool said(const std::string& text) const {
    std::lock_guard lock(mutex_);
    return std::any_of(lines_.begin(), lines_.end(),
                       [&](const std::string& line) { return line.find(text) != std::string::npos; });
  }

 private:
  mutable std::mutex mutex_;
  std::vector<std::string> lines_;
};

}  // namespace cairn::testing
