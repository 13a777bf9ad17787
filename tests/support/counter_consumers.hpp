// Consumers of the counter's events for consumer-group tests: an exactly-once SQL projector with a
// poison event, and a side-effect handler that logs each call to a file.
#pragma once

#include <atomic>
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

// public.counter_batched(stream_id, total, events, last_seq): the same fold through `on_batch`, each
// run summed per stream and written with one statement. Records the longest run it was given.
// An increment of 666 fails the whole run it is in.
inline std::shared_ptr<cairn::SqlProjector> batched_projector(std::atomic<size_t>& longest_run) {
  auto projector = cairn::sql_projector("counter.batched");
  projector
      ->table("public.counter_batched",
              "CREATE TABLE IF NOT EXISTS public.counter_batched (stream_id text PRIMARY KEY, total bigint NOT NULL, "
              "events bigint NOT NULL, last_seq bigint NOT NULL)")
      .on_batch<Incremented>([&longest_run](pqxx::work& tx, const std::vector<cairn::Envelope<Incremented>>& run) {
        cairn::Json sums = cairn::Json::object();
        for (const auto& [e, m] : run) {
          if (e.by == 666) throw std::runtime_error("poison increment on " + m.stream_id);
          auto& sum = sums[m.stream_id];
          sum["stream_id"] = m.stream_id;
          sum["total"] = sum.value("total", 0) + e.by;
          sum["events"] = sum.value("events", 0) + 1;
          sum["last_seq"] = m.seq;  // each stream's events come in seq order
        }
        cairn::Json rows = cairn::Json::array();
        for (auto& [stream, sum] : sums.items()) rows.push_back(sum);
        tx.exec_params(
            "INSERT INTO public.counter_batched SELECT * FROM jsonb_to_recordset($1::jsonb) "
            "AS r(stream_id text, total bigint, events bigint, last_seq bigint) ON CONFLICT (stream_id) DO UPDATE SET "
            "total = public.counter_batched.total + excluded.total, events = public.counter_batched.events + excluded.events, "
            "last_seq = excluded.last_seq",
            rows.dump());
        for (size_t seen = longest_run.load(); run.size() > seen && !longest_run.compare_exchange_weak(seen, run.size());) {
        }
      })
      .on_reset([](pqxx::work& tx) { tx.exec0("TRUNCATE public.counter_batched"); });
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
