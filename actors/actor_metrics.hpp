// The metrics the actors keep, looked up once (per actor definition, per slice) so that a command
// or an event touches only atomics: no lock, no string built, no allocation.
#pragma once

#include <array>
#include <chrono>
#include <map>
#include <string>
#include <unordered_map>

#include <cairn/application.hpp>
#include <cairn/handle_result.hpp>
#include <cairn/metrics.hpp>

namespace cairn {

// One actor definition's commands (label actor).
struct ActorMetrics {
  std::array<Counter*, 8> results{};  // cairn_commands_total, by HandleResult::Status
  Counter* conflicts = nullptr;       // appends another writer beat: decided again under the lock
  Histogram* duration = nullptr;      // from the actor's mailbox to the answer
  Counter* snapshots = nullptr;

  void answered(HandleResult::Status status, std::chrono::steady_clock::time_point received) const;
};

// The write path: stream actors, the supervisor and the group-commit writers.
struct WritePathMetrics {
  WritePathMetrics(Metrics& metrics, const Application& app);
  const ActorMetrics& of(const ActorSpec* spec) const { return actors.at(spec); }

  std::unordered_map<const ActorSpec*, ActorMetrics> actors;
  Gauge* live_actors;
  Gauge* queued_commands;  // waiting in stream actors, the ones being decided included
  Counter* passivations;
  Histogram* batch_size;       // appends per group commit
  Histogram* append_duration;  // one group commit's transaction
};

// One slice of a consumer group, in this process.
struct SliceMetrics {
  Counter* handled = nullptr;   // events handled
  Counter* failures = nullptr;  // failed attempts (a handler threw)
};

// A consumer group's metrics in this process, per slice, made on first use. Used by its runner's
// thread only; the handlers get the pointers.
class GroupMetrics {
 public:
  GroupMetrics(Metrics& metrics, std::string group);
  const SliceMetrics& slice(uint32_t slice);
  // cairn_consumer_lease_held: 1 while this process holds the slice's lease.
  void lease_held(uint32_t slice, bool held);

 private:
  std::string group_;
  Family<Counter>& handled_;
  Family<Counter>& failures_;
  Family<Gauge>& leases_;
  std::map<uint32_t, SliceMetrics> slices_;
};

}  // namespace cairn
