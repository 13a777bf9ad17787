// Cairn's HTTP endpoint, whichever door starts it (Runtime::serve_http, cairn-worker --http,
// cairn console): /metrics for Prometheus, /healthz and /readyz for Kubernetes' probes. Routes
// that belong on every door are added here, once.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include <cairn/metrics.hpp>
#include <cairn/store.hpp>

#include "runtime/http/server.hpp"

namespace cairn::http {

struct EndpointSources {
  Metrics* metrics = nullptr;  // rendered at /metrics
  // /readyz: why this process is not ready, one reason per entry; none means ready.
  std::function<std::vector<std::string>()> readiness;
};

// GET /metrics (text format 0.0.4), /healthz (200 while the process serves) and /readyz (200, or
// 503 with the reasons as plain text). "/" is the web console's (runtime/console).
void add_endpoint_routes(Server& server, EndpointSources sources);

// cairn_build_info{version}: 1, so dashboards can tell which version each process runs.
void add_build_info(Metrics& metrics);

// The metrics read from the store at each scrape: consumer lag (events and seconds), stopped
// streams and live owners per group and slice, whether each group runs, the feed horizon's age and
// the scheduled messages waiting. They describe the database, so every process reports the same
// values. `store` may throw (the database is away): that scrape leaves them out.
void add_store_metrics(Metrics& metrics, std::function<Store&()> store);

}  // namespace cairn::http
