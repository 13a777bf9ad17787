// What a stream handler does: a unit of work is a few streams' events, each stream handled in
// seq order with retries, then stopped for the group if an event keeps failing.
#pragma once

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "actors/group_runner.hpp"

namespace cairn {

// One stream's share of a unit.
struct StreamJob {
  std::string stream_id;
  Fence fence;                      // the lease of the stream's slice
  std::vector<FeedEntry> events;    // from the feed, in seq order (none: a resumed stream catching up)
  std::optional<StreamProgress> progress;  // as stored before
  FeedCursor slice_cursor;  // the slice's low-water mark: a resumed stream's caught-up events sort there
  SliceMetrics metrics;     // its slice's, in this process
  bool check_skipped = false;  // its progress is assumed (ProgressMark::check_skipped)
};

// Streams handed to one stream handler. The handler claims them one at a time, so the runner can
// take back the ones not started yet from a handler held up by a slow one.
struct Unit {
  GroupState group;
  std::vector<StreamJob> streams;
  std::atomic<size_t> next{0};
  // The index of the first stream taken back: none is started after this.
  size_t take_back() { return next.exchange(streams.size()); }
};

// What became of one stream of a unit.
struct StreamOutcome {
  std::string stream_id;
  int64_t handled = 0;       // the seq handled up to
  bool stopped = false;      // stopped for the group: its events wait for a resume
  bool complete = true;      // false: interrupted; its other events are tried again later
  bool lease_lost = false;   // its slice has another owner now
  bool caught_up = false;    // a resumed stream's failure is cleared
  std::optional<ProgressMark> mark = std::nullopt;  // to save with the cursor (consumers that do not record progress)
};

struct UnitDone {
  std::shared_ptr<Unit> unit;
  std::vector<StreamOutcome> outcomes;  // of the streams the handler claimed
};

using run_atom = caf::atom_constant<caf::atom("run")>;
using done_atom = caf::atom_constant<caf::atom("done")>;
using stop_atom = caf::atom_constant<caf::atom("stop")>;

// A blocking (detached) CAF actor: handles the units the runner sends it, answering each with UnitDone.
void stream_handler(caf::blocking_actor* self, std::shared_ptr<const RunnerContext> context);

// A stream an operator resumed (or skipped) whose failed event is still to be re-handled.
bool is_resumed(const std::optional<StreamProgress>& progress);
RetryPolicy retry_policy(const RunnerContext& context);

}  // namespace cairn

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(std::shared_ptr<cairn::Unit>)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(cairn::UnitDone)
