// How `cairn-worker` and `cairn console` are stopped: SIGTERM, SIGINT or SIGHUP, taken by sigwait.
#pragma once

#include <signal.h>

namespace cairn::tools {

// Blocks the stop signals in the calling thread, and so in every thread it starts afterwards (each
// inherits the mask): one thread takes them with sigwait on the returned set.
inline sigset_t block_stop_signals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  return signals;
}

}  // namespace cairn::tools
