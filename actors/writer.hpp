// The group-commit writer actor: one Store transaction carries every append that queued up meanwhile.
#pragma once

#include "backends/wakeup.hpp"
#include "actors/actor_metrics.hpp"
#include "actors/protocol.hpp"

namespace cairn {

struct WriterState {
  struct Pending {
    AppendRequest request;
    caf::typed_response_promise<AppendOutcome> promise;
  };
  std::vector<Pending> pending;
  bool flush_queued = false;
  static inline const char* name = "cairn.writer";
};

// Spawn detached: appends block on the database. `max_batch` 1 turns group commit off.
// `wakeup` is told after every transaction that wrote something (it wakes local consumers).
writer_actor::behavior_type writer(writer_actor::stateful_pointer<WriterState> self, Store* store, size_t max_batch,
                                   std::shared_ptr<Wakeup> wakeup, const WritePathMetrics* metrics);

}  // namespace cairn
