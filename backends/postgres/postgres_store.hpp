// The PostgreSQL Store: libpqxx, parameterized statements only, a small connection pool, schema from sql/.
#pragma once

#include "backends/postgres/connection_pool.hpp"
#include "backends/store.hpp"

namespace cairn {

class PostgresStore final : public Store {
 public:
  // Throws StoreError when the database is unreachable or its schema is not migrated.
  PostgresStore(const std::string& url, Limits limits = {}, size_t pool_size = 4);

  std::vector<AppendOutcome> append_many(std::vector<AppendRequest> requests) override;
  std::vector<Message> read_stream(std::string_view stream_id, const StreamRange& range) override;
  int64_t head_seq(std::string_view stream_id) override;
  std::optional<Message> find_message(std::string_view id) override;
  std::vector<FeedEntry> read_feed(FeedCursor after, size_t limit, const FeedFilter& filter) override;
  std::vector<Message> read_correlation(std::string_view correlation_id) override;
  void save_snapshot(const Snapshot& snapshot) override;
  std::optional<Snapshot> load_snapshot(std::string_view stream_id) override;
  void schedule(Message message, Timestamp due) override;
  std::vector<Message> promote_due(Timestamp now, size_t limit) override;
  std::vector<StreamInfo> list_streams(size_t limit) override;

 private:
  std::vector<AppendOutcome> append_batch(std::vector<AppendRequest>& requests, const std::vector<std::string>& errors);
  template <class Work>
  auto with_connection(Work&& work);

  postgres::ConnectionPool pool_;
};

}  // namespace cairn
