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
  // makes a projector writing to this database exactly-once. The marks' fences are checked and
  // their rows locked first (LeaseLost); `work` learns which events the streams' progress already
  // covers, so it applies only the rest.
  virtual void transact_with_marks(const std::vector<ProgressMark>& marks,
                                   const std::function<void(pqxx::work&, const Handled&)>& work) = 0;
  virtual void transact(const std::function<void(pqxx::work&)>& work) = 0;
};

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
    sql(store).transact_with_marks(batch.marks, [&](pqxx::work& tx, const SqlTransactions::Handled& handled) {
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
    sql(store).transact(reset_);
  }

 private:
  SqlTransactions& sql(Store& store) const {
    auto* sql = store.sql();
    if (!sql) throw BadInput("SQL projector " + options_.group + " needs the PostgreSQL store");
    return *sql;
  }

  std::unordered_map<std::string, Handler> handlers_;
  std::vector<ReadModelTable> tables_;
  std::function<void(pqxx::work&)> reset_;
};

inline std::shared_ptr<SqlProjector> sql_projector(std::string group) {
  return std::make_shared<SqlProjector>(std::move(group));
}

}  // namespace cairn
