// Runtime: the embedding facade. Register actors, then handle, dispatch, load and explore streams.
#pragma once

#include <any>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <cairn/store.hpp>
#include <cairn/application.hpp>
#include <cairn/config.hpp>
#include <cairn/handle_result.hpp>
#include <cairn/log.hpp>
#include <cairn/metrics.hpp>

#include <chrono>
#include <functional>

namespace cairn {

// How this process runs consumer groups (reactions, projectors, side effects, command delivery).
struct WorkerOptions {
  std::vector<std::string> groups;  // only these groups; empty: every group of the application
  size_t batch_size = 500;
  std::chrono::milliseconds poll_interval{100};
  size_t stream_handlers = 4;  // streams of one slice handled concurrently
  int max_attempts = 5;        // failed attempts before a (group, stream) stops
  std::chrono::milliseconds backoff_base{20};
  std::chrono::milliseconds backoff_max{2000};
  // A runner that has not checked its leases for this long (frozen, deadlocked, or waiting on a
  // handler to finish before it gives a slice up) loses them, so other processes take its slices
  // over; its later progress writes fail (fenced). PostgreSQL only.
  std::chrono::milliseconds stall_timeout{60000};
  std::string owner;  // shown by `cairn status`; default host:pid
  LogSink log;        // default: format_text on stderr
};

// What /readyz reports: why this process is not ready (none: ready).
struct Readiness {
  std::vector<std::string> problems;
  bool ready() const { return problems.empty(); }
};

class Runtime {
 public:
  explicit Runtime(Config config = {});
  ~Runtime();  // shutdown()
  Runtime(const Runtime&) = delete;
  Runtime& operator=(const Runtime&) = delete;

  // Register actors and consumers (projectors, SQL projectors, side-effect handlers) before the
  // first command; afterwards the application is fixed.
  Application& app();
  // The application as registered, to read (its actors, types and consumers) at any time.
  const Application& application() const;
  template <class State>
  Runtime& add(const ActorDefinition<State>& definition) {
    app().add(definition);
    return *this;
  }
  Runtime& add(std::shared_ptr<Consumer> consumer) {
    app().add(std::move(consumer));
    return *this;
  }

  // Decides and appends one command on its stream's actor: the events, a rejection or a conflict.
  // Metadata is the caller's, except the keys Cairn acts on (reserved_metadata_keys): those throw
  // BadInput. The command starts a trace named by its own id, or by `trace.correlation_id`.
  HandleResult handle(const std::string& stream_id, Message command, const Trace& trace = {});
  std::future<HandleResult> handle_async(const std::string& stream_id, Message command, const Trace& trace = {});
  template <TypedMessage C>
  HandleResult handle(const std::string& stream_id, const C& command, Json metadata = Json::object(),
                      const Trace& trace = {}) {
    return handle(stream_id, make_command(stream_id, command, std::move(metadata)), trace);
  }
  template <TypedMessage C>
  std::future<HandleResult> handle_async(const std::string& stream_id, const C& command,
                                         Json metadata = Json::object(), const Trace& trace = {}) {
    return handle_async(stream_id, make_command(stream_id, command, std::move(metadata)), trace);
  }

  // Appends the command to the log durably (at `at`, if given) and returns its id; a worker delivers it.
  // Metadata and trace as for handle.
  std::string dispatch(const std::string& stream_id, Message command, std::optional<Timestamp> at = std::nullopt,
                       const Trace& trace = {});
  template <TypedMessage C>
  std::string dispatch(const std::string& stream_id, const C& command, std::optional<Timestamp> at = std::nullopt,
                       const Trace& trace = {}) {
    return dispatch(stream_id, make_command(stream_id, command), at, trace);
  }

  // The state of a stream, now or as of a seq or time (time travel).
  std::any load_any(const std::string& stream_id, const StreamRange& upto = {});
  Json state_json(const std::string& stream_id, const StreamRange& upto = {});
  template <class State>
  State load(const std::string& stream_id, const StreamRange& upto = {}) {
    return std::any_cast<State>(load_any(stream_id, upto));
  }

  // The state with hypothetical events applied after the stored ones; nothing is persisted.
  std::any what_if_any(const std::string& stream_id, const std::vector<Draft>& events);
  template <class State>
  State what_if(const std::string& stream_id, const std::vector<Draft>& events) {
    return std::any_cast<State>(what_if_any(stream_id, events));
  }

  // Run as the schema owner (`cairn migrate --app`): applies the missing schema migrations and
  // creates the loaded consumers' missing read-model tables, so workers need no DDL rights.
  // Returns one line per change. With Config::migrate, a runtime does this itself: the schema when
  // it is made, the tables when its consumers start. The memory store needs none of it.
  std::vector<std::string> migrate();

  // Starts this process's share of every consumer group: each (group, slice) not owned by another
  // process is taken, and taken over when its owner dies. Also promotes due scheduled messages.
  // On PostgreSQL it sets glibc's M_TRIM_THRESHOLD to 64 MiB for the process, unless
  // MALLOC_TRIM_THRESHOLD_ is set: freed feed pages are reused rather than faulted in again.
  void start_consumers(WorkerOptions options = {});
  // Stops fetching, finishes the batches in flight, saves progress and releases the slices.
  void stop_consumers();
  std::vector<std::string> consumer_group_names();
  // A state-stored projector's view for one key (see projector.hpp), if it has one.
  template <class State>
  std::optional<State> projection(const std::string& group, const std::string& key) {
    auto json = store().load_projection(group, key);
    if (!json) return std::nullopt;
    return json->get<State>();
  }

  // Read your writes: waits until `group` has handled everything it reads in `stream_id` up to
  // `seq` (e.g. the seq of a command's last event). False on timeout.
  bool wait_for(const std::string& group, const std::string& stream_id, int64_t seq,
                std::chrono::milliseconds timeout = std::chrono::seconds(5));

  // Empties the group's read model (its consumer's reset hook) and re-delivers history with
  // `replaying` set. Safe while workers run: the group is stopped until every slice is free (no
  // batch in flight anywhere), reset, then resumed if it was running. Throws if still busy after `timeout`.
  void reset_group(const std::string& group, std::chrono::milliseconds timeout = std::chrono::seconds(30));

  // Operations. The runtime's metrics: commands, appends, stream actors, this process's consumers
  // and its connection pool, and those read from the store at each render (lag, stopped streams,
  // the feed's horizon). A service registers its own here too: they share the endpoint.
  Metrics& metrics();
  // Ready when the database can be reached and its schema is not behind this build, and each
  // consumer group this process runs holds the slices it wants (its fair share, rounded down).
  Readiness readiness();
  // Serves the web console at / (actions need CAIRN_CONSOLE_TOKEN in the environment, else it is
  // read-only), /metrics, /healthz and /readyz over HTTP on `address` ("HOST:PORT"; a port alone listens on
  // 127.0.0.1, port 0 picks a free one) until shutdown(); returns the address bound. Throws BadInput
  // for a malformed address or a second call, StoreError when it cannot listen there. The server
  // (cpp-httplib) makes the process ignore SIGPIPE, so a client gone mid-answer cannot kill it.
  std::string serve_http(const std::string& address = "127.0.0.1:9464");

  size_t live_actors();
  // Waits for commands in flight (their appends complete), then stops every actor. Idempotent.
  void shutdown();
  Store& store();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace cairn
