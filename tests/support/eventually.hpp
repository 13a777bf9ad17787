// Polls a condition until it holds or a timeout passes: for tests of asynchronous consumers.
// Exceptions while polling count as "not yet" (a server may be restarting); the last try throws.
#pragma once

#include <chrono>
#include <exception>
#include <thread>

namespace cairn::testing {

template <class Predicate>
bool eventually(Predicate predicate, std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    try {
      if (predicate()) return true;
    } catch (const std::exception&) {
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return predicate();
}

}  // namespace cairn::testing
