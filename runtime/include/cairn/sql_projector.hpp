// SQL projectors: read models in the same PostgreSQL, their rows and their progress in one
// transaction, so each event is applied exactly once.
//
//   auto balances = cairn::sql_projector("bank.balances");
//   balances->table("public.bank_balances", "CREATE TABLE IF NOT EXISTS public.bank_balances (...)")
//     .on<Deposited>([](pqxx::work& tx, const Deposited& e, const cairn::Message& m) {
//        tx.exec_params("INSERT INTO public.bank_balances ...", m.stream_id, e.amount);
//      })
//     .on_reset([](pqxx::work& tx) { tx.exec0("TRUNCATE public.bank_balances"); });
//
// A busy read model takes a type's events in runs instead (`on_batch`): one statement for many
// events, e.g. rows summed per key and upserted with one INSERT ... SELECT FROM jsonb_to_recordset.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include <pqxx/pqxx>

#include <cairn/consumer.hpp>
#include <cairn/errors.hpp>

namespace cairn {

// Transactions on the PostgreSQL database that holds the log (Store::sql()).
class SqlTransactions {
 public:
  virtual ~SqlTransactions() = default;
  // Whether an event is already covered by its stream's progress (applied before: skip it).
  using Handled = std::function<bool(const Message& event)>;
  // Runs `work` and records every mark (one per stream, of one group) in one transaction: what
  // makes a projector writing to this database exactly-once. The marks' fences are checked first
  // (LeaseLost); `work` learns which events the streams' progress already covers, so it applies
  // only the rest. `work` may run twice: a transaction that finds a stream further on than its
  // runner knew, or whose handler fails, is rolled back and run again against the stored marks.
  // `types` are the event types the consumer reads (none: all). A mark with `check_skipped` is not
  // written past such an event after the group's start that its stream's progress does not cover
  // and `work` was not given (the feed skipped it): StreamGap, and nothing is committed.
  virtual void transact_with_marks(const std::vector<ProgressMark>& marks, const std::vector<std::string>& types,
                                   const std::function<void(pqxx::work&, const Handled&)>& work) = 0;
  virtual void transact(const std::function<void(pqxx::work&)>& work) = 0;
};

// An event decoded, with the message it came in.
template <class E>
struct Envelope {
  E event;
  const Message& message;
};

class SqlProjector final : public ConsumerBase<SqlProjector> {
 public:
  using Run = std::vector<const Message*>;  // consecutive events of one type, each stream's in seq order
  using Handler = std::function<void(pqxx::work&, const Run&)>;
  explicit SqlProjector(std::string group) : ConsumerBase(std::move(group)) {}

  template <TypedMessage E, class F>
  SqlProjector& on(F f) {
    static_assert(std::is_invocable_v<F, pqxx::work&, const E&, const Message&>,
                  "an SQL projector handler must be callable as void(pqxx::work&, const Event&, const Message&)");
    return add<E>([f](pqxx::work& tx, const Run& run) {
      for (const auto* m : run) f(tx, from_payload<E>(m->payload), *m);
    });
  }
  // Consecutive events of type E in one call (several streams' events, each stream's in seq order):
  // one round trip for many events. A failing run is retried stream by stream, then event by event,
  // so a poison event still stops only its own stream.
  template <TypedMessage E, class F>
  SqlProjector& on_batch(F f) {
    static_assert(std::is_invocable_v<F, pqxx::work&, const std::vector<Envelope<E>>&>,
                  "an SQL projector batch handler must be callable as "
                  "void(pqxx::work&, const std::vector<cairn::Envelope<Event>>&)");
    return add<E>([f](pqxx::work& tx, const Run& run) {
      std::vector<Envelope<E>> events;
      events.reserve(run.size());
      for (const auto* m : run) events.push_back({from_payload<E>(m->payload), *m});
      f(tx, events);
    });
  }
  // A table of the read model and the DDL that creates it. The name must be schema-qualified: an
  // unqualified one resolves through the search_path, where another role could plant its own.
  // Created by `cairn migrate --app` (or a runtime with Config::migrate), never by a worker.
  SqlProjector& table(std::string qualified_name, std::string ddl) {
    if (qualified_name.find('.') == std::string::npos)
      throw BadInput("SQL projector " + options_.group + ": table " + qualified_name +
                     " must be schema-qualified, e.g. public." + qualified_name);
    tables_.push_back({std::move(qualified_name), std::move(ddl)});
    return *this;
  }
  std::vector<ReadModelTable> read_model_tables() const override { return tables_; }
  SqlProjector& on_reset(std::function<void(pqxx::work&)> f) {
    reset_ = std::move(f);
    return *this;
  }
  bool records_progress() const override { return true; }
  bool handles_batches() const override { return true; }

  void handle(Store& store, ConsumerServices& services, const Message& event, const Delivery& delivery) override {
    handle_batch(store, services, {{event}, {delivery.mark(options_.group, event)}, delivery.replaying});
  }

  // The events of a feed batch, across streams, in one transaction with every stream's mark: one
  // commit instead of one per stream or per event.
  void handle_batch(Store& store, ConsumerServices&, const DeliveryBatch& batch) override {
    if (batch.events.empty()) return;
    auto apply_unhandled = [&](pqxx::work& tx, const SqlTransactions::Handled& handled) {
      Run events;
      for (const auto& event : batch.events)
        if (!handled(event)) events.push_back(&event);
      apply(tx, events);
    };
    sql(store).transact_with_marks(batch.marks, options_.types, apply_unhandled);
  }

  // Runs the handlers for `events` in `tx`, in order, a run of one type per call (skipping types
  // it does not read): what a batch does, without the progress marks. The test kit applies with it.
  void apply(pqxx::work& tx, const Run& events) const {
    for (size_t i = 0; i < events.size();) {
      const auto& type = events[i]->type;
      size_t end = i + 1;
      while (end < events.size() && events[end]->type == type) ++end;
      if (auto it = handlers_.find(type); it != handlers_.end())
        it->second(tx, Run(events.begin() + static_cast<std::ptrdiff_t>(i), events.begin() + static_cast<std::ptrdiff_t>(end)));
      i = end;
    }
  }

  // Without a reset hook its tables would keep the old rows and a replay would apply every event again.
  void require_resettable() const override {
    if (!reset_)
      throw BadInput("SQL projector " + options_.group + " has no on_reset hook to empty its read model: add one "
                     "(e.g. TRUNCATE its tables) before resetting it");
  }
  void reset(Store& store) override {
    require_resettable();
    sql(store).transact(reset_);
  }

 private:
  SqlTransactions& sql(Store& store) const {
    auto* sql = store.sql();
    if (!sql) throw BadInput("SQL projector " + options_.group + " needs the PostgreSQL store");
    return *sql;
  }

  template <TypedMessage E>
  SqlProjector& add(Handler handler) {
    if (handlers_.count(MessageTraits<E>::name))
      throw BadInput("SQL projector " + options_.group + " has two handlers for " + MessageTraits<E>::name);
    reads(MessageTraits<E>::name);
    handlers_[MessageTraits<E>::name] = std::move(handler);
    return *this;
  }

  std::unordered_map<std::string, Handler> handlers_;
  std::vector<ReadModelTable> tables_;
  std::function<void(pqxx::work&)> reset_;
};

inline std::shared_ptr<SqlProjector> sql_projector(std::string group) {
  return std::make_shared<SqlProjector>(std::move(group));
}

}  // namespace cairn
