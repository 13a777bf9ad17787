#include <cairn/testing_sql.hpp>

#include "backends/postgres/connect.hpp"
#include "backends/postgres/migrations.hpp"

namespace cairn::testing {

SqlProjectorSpecification::SqlProjectorSpecification(std::shared_ptr<SqlProjector> projector, std::string database_url)
    : projector_(std::move(projector)), url_(std::move(database_url)) {
  postgres::create_tables(url_, projector_->read_model_tables());
}

void SqlProjectorSpecification::apply(const std::string& stream_id, const std::vector<Draft>& drafts) {
  auto connection = postgres::connect(url_);
  pqxx::work tx(*connection);
  std::vector<Message> events;
  for (const auto& draft : drafts) {
    events.push_back(make_message(stream_id, draft.type, draft.payload, Json::object(), draft.revision));
    events.back().seq = ++seqs_[stream_id];
  }
  SqlProjector::Run run;
  for (const auto& event : events) run.push_back(&event);
  projector_->apply(tx, run);  // together, as a batch from the feed: batch handlers get them in one call
  tx.commit();
}

SqlProjectorSpecification::Rows SqlProjectorSpecification::rows(const std::string& query) const {
  auto connection = postgres::connect(url_);
  pqxx::read_transaction tx(*connection);
  Rows out;
  for (const auto& row : tx.exec(query)) {
    out.emplace_back();
    for (const auto& field : row) out.back().push_back(field.is_null() ? "NULL" : field.c_str());
  }
  return out;
}

}  // namespace cairn::testing
