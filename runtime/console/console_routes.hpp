// Mounts the web console on the process's HTTP endpoint (runtime/http): "/" and its assets, the
// JSON API under /api/ and the event stream. Every door that starts the endpoint (Runtime::serve_http,
// cairn-worker --http, cairn console) mounts it the same way.
#pragma once

#include <memory>

#include "runtime/console/console.hpp"
#include "runtime/http/server.hpp"

namespace cairn::console {

// The endpoint's server with room for the console: its event streams hold a thread each while open.
http::ServerOptions server_options();
// The console's options: the token from CAIRN_CONSOLE_TOKEN (none: read-only), as many event
// streams as server_options() leaves threads for besides.
Options options_from_environment();

// The console's replies carry headers that keep its page its own: no script, style or frame from
// elsewhere, no MIME sniffing, no referrer. `console` must outlive the server's requests.
void add_console_routes(http::Server& server, std::shared_ptr<Console> console);

}  // namespace cairn::console
