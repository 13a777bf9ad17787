// SQL projectors: read models in the same PostgreSQL, their rows and their progress in one
// transaction, so each event is applied exactly once.
//
//   auto balances = cairn::sql_projector("bank.balances");
//   balances->table("public.bank_balances", "CREATE TABLE IF NOT EXISTS public.bank_balances (...)")
//     .on<Deposited>([](pqxx::work& tx, const Deposited& e, const cairn::Message& m) {
//        tx.exec_params("INSERT INTO public.bank_balances ...", m.stream_id, e.amount);
//      })
//     .on_reset([](pqxx::work& tx) { tx.exec0("TRUNCATE public.bank_balances"); });
#pragma once

#include <pqxx/pqxx>

#include "backends/postgres/postgres_store.hpp"
#include "runtime/consumer.hpp"
#include "runtime/errors.hpp"

namespace cairn {

class SqlProjector final : public ConsumerBase<SqlProjector> {
 public:
  using Handler = std::function<void(pqxx::work&, const Message&)>;
  explicit SqlProjector(std::string group) : ConsumerBase(std::move(group)) {}

  template <TypedMessage E, class F>
  SqlProjector& on(F f) {
    static_assert(std::is_invocable_v<F, pqxx::work&, const E&, const Message&>,
                  "an SQL projector handler must be callable as void(pqxx::work&, const Event&, const Message&)");
    reads(MessageTraits<E>::name);
    handlers_[MessageTraits<E>::name] = [f](pqxx::work& tx, const Message& m) { f(tx, from_payload<E>(m.payload), m); };
    return *this;
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
    postgres(store).transact_with_marks(batch.marks, [&](pqxx::work& tx, const PostgresStore::Handled& handled) {
      for (const auto& event : batch.events)
        if (handlers_.count(event.type) && !handled(event)) apply(tx, event);
    });
  }

  // Runs the handler for one event in `tx` (nothing for a type it does not read): what a batch
  // does per event, without the progress marks. The test kit applies events with it.
  void apply(pqxx::work& tx, const Message& event) const {
    if (auto it = handlers_.find(event.type); it != handlers_.end()) it->second(tx, event);
  }

  // Without a reset hook its tables would keep the old rows and a replay would apply every event again.
  void require_resettable() const override {
    if (!reset_)
      throw BadInput("SQL projector " + options_.group + " has no on_reset hook to empty its read model: add one "
                     "(e.g. TRUNCATE its tables) before resetting it");
  }
  void reset(Store& store) override {
    require_resettable();
    postgres(store).transact(reset_);
  }

 private:
  PostgresStore& postgres(Store& store) const {
    auto* pg = dynamic_cast<PostgresStore*>(&store);
    if (!pg) throw BadInput("SQL projector " + options_.group + " needs the PostgreSQL store");
    return *pg;
  }

  std::unordered_map<std::string, Handler> handlers_;
  std::vector<ReadModelTable> tables_;
  std::function<void(pqxx::work&)> reset_;
};

inline std::shared_ptr<SqlProjector> sql_projector(std::string group) {
  return std::make_shared<SqlProjector>(std::move(group));
}

}  // namespace cairn
