#include "actors/actor_metrics.hpp"

namespace cairn {
namespace {

using Status = HandleResult::Status;

constexpr std::array<std::pair<Status, const char*>, 8> result_names = {{
    {Status::ok, "ok"},
    {Status::rejected, "rejected"},
    {Status::conflict, "conflict"},
    {Status::invalid, "invalid"},
    {Status::failed, "failed"},
    {Status::lease_lost, "lease_lost"},
    {Status::unavailable, "unavailable"},
    {Status::overloaded, "overloaded"},
}};

}  // namespace

void ActorMetrics::answered(Status status, std::chrono::steady_clock::time_point received) const {
  results[static_cast<size_t>(status)]->inc();
  duration->observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - received).count());
}

WritePathMetrics::WritePathMetrics(Metrics& metrics, const Application& app)
    : live_actors(&metrics.gauge("cairn_stream_actors", "Live stream actors (streams held in memory)").labels()),
      queued_commands(&metrics
                           .gauge("cairn_stream_queued_commands",
                                  "Commands in stream actors' queues, the ones being decided included (a hot "
                                  "stream's queue is decided and appended in batches)")
                           .labels()),
      passivations(&metrics.counter("cairn_stream_actor_passivations_total",
                                    "Stream actors stopped for being idle or the least recently used")
                        .labels()),
      batch_size(&metrics
                      .histogram("cairn_append_batch_size", "Appends written together by one group commit",
                                 exponential_buckets(1024))
                      .labels()),
      append_duration(&metrics
                           .histogram("cairn_append_duration_seconds",
                                      "How long one group commit took to write its appends", latency_buckets())
                           .labels()) {
  auto& commands = metrics.counter("cairn_commands_total",
                                   "Commands answered by their stream's actor, by result (ok, rejected by decide, "
                                   "invalid, overloaded, conflict, unavailable, lease_lost, failed)",
                                   {"actor", "result"});
  auto& conflicts = metrics.counter("cairn_command_conflicts_total",
                                    "Appends that found another writer first and were decided again under the "
                                    "stream's lock",
                                    {"actor"});
  auto& durations = metrics.histogram("cairn_command_duration_seconds",
                                      "From a command's arrival at its stream's actor to its answer",
                                      latency_buckets(), {"actor"});
  auto& snapshots = metrics.counter("cairn_snapshots_written_total", "Snapshots of stream states written", {"actor"});
  for (const auto& spec : app.actors()) {
    ActorMetrics m;
    for (auto [status, name] : result_names) m.results[static_cast<size_t>(status)] = &commands.labels({spec.name, name});
    m.conflicts = &conflicts.labels({spec.name});
    m.duration = &durations.labels({spec.name});
    m.snapshots = &snapshots.labels({spec.name});
    actors.emplace(&spec, m);
  }
}

GroupMetrics::GroupMetrics(Metrics& metrics, std::string group)
    : group_(std::move(group)),
      handled_(metrics.counter("cairn_consumer_events_handled_total", "Events this process's consumers handled",
                               {"group", "slice"})),
      failures_(metrics.counter("cairn_consumer_failures_total",
                                "Failed attempts at an event in this process (the handler threw)", {"group", "slice"})),
      leases_(metrics.gauge("cairn_consumer_lease_held", "1 while this process holds the slice's lease",
                            {"group", "slice"})) {}

const SliceMetrics& GroupMetrics::slice(uint32_t slice) {
  auto [it, fresh] = slices_.try_emplace(slice);
  if (fresh) {
    auto label = std::to_string(slice);
    it->second = {&handled_.labels({group_, label}), &failures_.labels({group_, label})};
  }
  return it->second;
}

void GroupMetrics::lease_held(uint32_t slice, bool held) {
  leases_.labels({group_, std::to_string(slice)}).set(held ? 1 : 0);
}

}  // namespace cairn
