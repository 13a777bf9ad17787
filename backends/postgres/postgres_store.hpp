// The PostgreSQL Store: libpqxx, parameterized statements only, a small connection pool, schema from sql/.
#pragma once

#include "backends/postgres/connection_pool.hpp"
#include "backends/postgres/lease_session.hpp"
#include <cairn/sql_projector.hpp>
#include <cairn/store.hpp>

namespace cairn {

class PostgresStore final : public Store, public SqlTransactions {
 public:
  // Throws StoreError when the database is unreachable or its schema is not migrated. With
  // `metrics`, its connection pool reports how many connections are in use.
  PostgresStore(const std::string& url, Limits limits = {}, size_t pool_size = 4, Metrics* metrics = nullptr);

  std::vector<AppendOutcome> append_many(std::vector<AppendRequest> requests) override;
  std::optional<AppendOutcome> append_under_lock(const std::string& stream_id, int64_t after_seq,
                                                 const LockedDecide& decide) override;
  std::vector<Message> read_stream(std::string_view stream_id, const StreamRange& range) override;
  int64_t head_seq(std::string_view stream_id) override;
  std::optional<Message> find_message(std::string_view id) override;
  std::vector<FeedEntry> read_feed(FeedCursor after, size_t limit, const FeedFilter& filter) override;
  FeedPage read_feed_page(FeedCursor after, size_t limit, const FeedFilter& filter) override;
  FeedCursor feed_head() override;
  FeedHealth feed_health() override;
  std::vector<Message> read_correlation(std::string_view correlation_id, size_t limit) override;
  void save_snapshot(const Snapshot& snapshot) override;
  std::optional<Snapshot> load_snapshot(std::string_view stream_id) override;
  void schedule(Message message, Timestamp due) override;
  Promotion promote_due(Timestamp now, size_t limit) override;
  std::vector<UndeliverableMessage> undeliverable_messages(size_t limit) override;
  ScheduleSummary schedule_summary() override;
  std::vector<StreamInfo> list_streams(size_t limit, std::string_view prefix) override;

  GroupState ensure_group(const std::string& group_id, uint32_t slice_count, StartFrom start) override;
  ShapeCheck check_shape(const std::string& group_id, const GroupShape& shape) override;
  std::optional<GroupState> find_group(const std::string& group_id) override;
  std::vector<GroupState> list_groups() override;
  FeedCursor load_cursor(const std::string& group_id, uint32_t slice) override;
  bool cursor_passed(const std::string& group_id, std::string_view stream_id, int64_t seq) override;
  bool save_progress(const std::string& group_id, Fence fence, int64_t generation, FeedCursor cursor,
                     const std::vector<ProgressMark>& marks) override;
  std::vector<StreamProgress> load_progress(const std::string& group_id,
                                            const std::vector<std::string>& stream_ids) override;
  std::vector<StreamProgress> failed_streams(const std::string& group_id) override;
  void mark_handled(const ProgressMark& mark) override;
  void stop_stream(const std::string& group_id, const StreamProgress& failure, std::optional<Fence> fence) override;
  void resume_stream(const std::string& group_id, const std::string& stream_id, bool skip) override;
  void clear_failure(const std::string& group_id, const std::string& stream_id, std::optional<Fence> fence) override;
  void set_group_active(const std::string& group_id, bool active) override;
  void reset_group(const std::string& group_id, const std::optional<GroupShape>& shape) override;
  std::vector<SliceStatus> slice_status(const std::string& group_id) override;
  std::unique_ptr<GroupMembership> join_group(const std::string& group_id) override;
  std::unique_ptr<SliceLease> try_lease_slice(const std::string& group_id, uint32_t slice,
                                              const std::string& owner) override;
  bool update_projection(const std::string& key, const ProgressMark& mark, const std::vector<std::string>& types,
                         const std::function<Json(Json state)>& evolve) override;
  std::optional<Json> load_projection(const std::string& group_id, const std::string& key) override;
  std::vector<ProjectionView> list_projections(const std::string& group_id, const std::string& after_key,
                                               size_t limit) override;
  void clear_projections(const std::string& group_id) override;

  SqlTransactions* sql() override { return this; }
  void transact_with_marks(const std::vector<ProgressMark>& marks, const std::vector<std::string>& types,
                           const std::function<void(pqxx::work&, const Handled&)>& work) override;
  void transact(const std::function<void(pqxx::work&)>& work) override;

 private:
  std::vector<AppendOutcome> append_batch(std::vector<AppendRequest>& requests, const std::vector<std::string>& errors);
  template <class Work>
  auto with_connection(Work&& work);

  std::string url_;
  postgres::ConnectionPool pool_;
  std::shared_ptr<postgres::LeaseSession> leases_;
};

}  // namespace cairn
