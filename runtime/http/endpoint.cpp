#include "runtime/http/endpoint.hpp"

#include <map>

#include <cairn/validation.hpp>
#include <cairn/version.hpp>

namespace cairn::http {

void add_endpoint_routes(Server& server, EndpointSources sources) {
  auto* metrics = sources.metrics;
  server.get("/metrics", [metrics](const Request&) {
    auto response = Response::text(200, metrics->render());
    response.content_type = Metrics::content_type;
    return response;
  });
  server.get("/healthz", [](const Request&) { return Response::text(200, "ok\n"); });
  server.get("/readyz", [readiness = std::move(sources.readiness)](const Request&) {
    auto problems = readiness ? readiness() : std::vector<std::string>{};
    if (problems.empty()) return Response::text(200, "ready\n");
    std::string body;
    for (const auto& problem : problems) body += "not ready: " + problem + "\n";
    return Response::text(503, body);
  });
}

void add_build_info(Metrics& metrics) {
  metrics.gauge("cairn_build_info", "1, labelled with the Cairn version this process runs", {"version"})
      .labels({CAIRN_VERSION})
      .set(1);
}

void add_store_metrics(Metrics& metrics, std::function<Store&()> store) {
  metrics.add_collector("store", [store = std::move(store)](MetricsScrape& scrape) {
    auto& log = store();
    struct Slice {
      std::string group, slice;
      SliceStatus status;
      int64_t stopped = 0;
    };
    std::vector<std::pair<std::string, bool>> groups;
    std::vector<Slice> slices;
    for (const auto& group : log.list_groups()) {
      groups.emplace_back(group.group_id, group.active);
      std::map<uint32_t, int64_t> stopped;
      for (const auto& failed : log.failed_streams(group.group_id))
        if (failed.stopped) ++stopped[stream_hash(failed.stream_id) % std::max<uint32_t>(group.slice_count, 1)];
      for (auto& status : log.slice_status(group.group_id))
        slices.push_back({group.group_id, std::to_string(status.slice), status, stopped[status.slice]});
    }
    auto health = log.feed_health();
    auto schedule = log.schedule_summary();
    auto undeliverable = log.undeliverable_messages(1000).size();

    scrape.family("cairn_consumer_group_active", "1 while the consumer group runs, 0 while an operator stopped it",
                  MetricType::gauge);
    for (const auto& [group, active] : groups) scrape.sample({{"group", group}}, active ? 1 : 0);
    auto per_slice = [&](const char* name, const char* help, auto value) {
      scrape.family(name, help, MetricType::gauge);
      for (const auto& s : slices) scrape.sample({{"group", s.group}, {"slice", s.slice}}, value(s));
    };
    per_slice("cairn_consumer_lag_events", "Events in the slice's feed after its cursor (not yet handled)",
              [](const Slice& s) { return static_cast<double>(s.status.lag_events); });
    per_slice("cairn_consumer_lag_seconds", "Age of the oldest event after the slice's cursor (0 when none)",
              [](const Slice& s) { return s.status.lag_seconds; });
    per_slice("cairn_consumer_stopped_streams", "Streams of the slice stopped after a failing event, waiting for "
              "`cairn resume` or `cairn skip`", [](const Slice& s) { return static_cast<double>(s.stopped); });
    per_slice("cairn_consumer_slice_owned", "1 while some process holds the slice's lease, 0 while nobody reads it",
              [](const Slice& s) { return s.status.owner.empty() ? 0.0 : 1.0; });
    scrape.family("cairn_feed_horizon_age_seconds", "How long the transaction holding the feed's horizon back has "
                  "run (0 when none is visible): every consumer group waits for it", MetricType::gauge);
    scrape.sample({}, health.age_seconds());
    scrape.family("cairn_feed_horizon_held", "1 while committed events wait behind a transaction still running",
                  MetricType::gauge);
    scrape.sample({}, health.held ? 1 : 0);
    scrape.family("cairn_scheduled_messages_pending", "Scheduled (delayed) commands waiting to fall due",
                  MetricType::gauge);
    scrape.sample({}, static_cast<double>(schedule.pending));
    scrape.family("cairn_scheduled_messages_undeliverable",
                  "Scheduled messages that fell due but could not enter their stream (at most 1000 counted)",
                  MetricType::gauge);
    scrape.sample({}, static_cast<double>(undeliverable));
  });
}

}  // namespace cairn::http
