// Consumers of the counter's events for consumer-group tests: an exactly-once SQL projector with a
// poison event, and a side-effect handler that logs each call to a file.
#pragma once

#include <cstdlib>
#include <fstream>
#include <mutex>

#include <cairn/sql_projector.hpp>
#include "tests/support/counter_actor.hpp"

namespace counter {

// public.counter_totals(stream_id, total, events, last_seq): the fold of each stream's increments. It
// refuses an event at or below last_seq, so a double or out-of-order delivery fails loudly.
// An increment of 666 fails until public.counter_fixes holds its stream (a poison message, then a fix).
inline std::shared_ptr<cairn::SqlProjector> totals_projector() {
  auto projector = cairn::sql_projector("counter.totals");
  projector
      ->table("public.counter_totals",
              "CREATE TABLE IF NOT EXISTS public.counter_totals (stream_id text PRIMARY KEY, total bigint NOT NULL, "
              "events bigint NOT NULL, last_seq bigint NOT NULL)")
      .table("public.counter_fixes", "CREATE TABLE IF NOT EXISTS public.counter_fixes (stream_id text PRIMARY KEY)")
      .on<Incremented>([](pqxx::work& tx, const Incremented& e, const cairn::Message& m) {
        if (e.by == 666 && tx.exec_params("SELECT 1 FROM public.counter_fixes WHERE stream_id = $1", m.stream_id).empty())
          throw std::runtime_error("poison increment on " + m.stream_id);
        auto row = tx.exec_params("SELECT last_seq FROM public.counter_totals WHERE stream_id = $1 FOR UPDATE", m.stream_id);
        if (!row.empty() && row[0][0].as<int64_t>() >= m.seq)
          throw std::logic_error("event " + std::to_string(m.seq) + " of " + m.stream_id + " arrived after " +
                                 row[0][0].c_str());
        tx.exec_params(
            "INSERT INTO public.counter_totals VALUES ($1, $2, 1, $3) ON CONFLICT (stream_id) DO UPDATE SET "
            "total = public.counter_totals.total + excluded.total, events = public.counter_totals.events + 1, last_seq = excluded.last_seq",
            m.stream_id, e.by, m.seq);
      })
      .on_reset([](pqxx::work& tx) { tx.exec0("TRUNCATE public.counter_totals"); });
  return projector;
}

// Appends "stream seq" to $COUNTER_EFFECTS_FILE for every call (not during replays).
inline std::shared_ptr<cairn::SideEffectHandler> effects_handler() {
  auto handler = cairn::side_effect("counter.effects");
  handler->on<Incremented>([](const Incremented&, const cairn::Message& m) {
    static std::mutex mutex;
    const char* path = std::getenv("COUNTER_EFFECTS_FILE");
    if (!path) return;
    std::lock_guard lock(mutex);
    std::ofstream(path, std::ios::app) << m.stream_id << " " << m.seq << "\n";
  });
  return handler;
}

inline void install_consumers(cairn::Application& app) {
  app.add(totals_projector());
  app.add(effects_handler());
}

}  // namespace counter
