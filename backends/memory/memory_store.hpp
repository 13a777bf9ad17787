// The in-memory Store: the embedded default for examples, unit tests and quick starts.
#pragma once

#include <map>
#include <mutex>
#include <unordered_map>

#include <cairn/store.hpp>

namespace cairn {

class MemoryStore final : public Store {
 public:
  explicit MemoryStore(Limits limits = {}) : Store(limits) {}

  std::vector<AppendOutcome> append_many(std::vector<AppendRequest> requests) override;
  std::optional<AppendOutcome> append_under_lock(const std::string& stream_id, int64_t after_seq,
                                                 const LockedDecide& decide) override;
  std::vector<Message> read_stream(std::string_view stream_id, const StreamRange& range) override;
  int64_t head_seq(std::string_view stream_id) override;
  std::optional<Message> find_message(std::string_view id) override;
  std::vector<FeedEntry> read_feed(FeedCursor after, size_t limit, const FeedFilter& filter) override;
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

 private:
  struct Group {
    GroupState state;
    std::vector<FeedCursor> cursors;
    FeedCursor start;  // events at or before it are not the group's business (StartFrom::now)
    std::vector<std::string> owners;
    std::vector<int64_t> epochs;
    size_t members = 0;  // live GroupMemberships
    std::map<std::string, StreamProgress, std::less<>> streams;
  };
  Group& group(const std::string& group_id);  // throws BadInput for an unknown group
  void mark_locked(const ProgressMark& mark);
  void check_skipped_locked(const Group& g, const ProgressMark& mark, int64_t done,
                            const std::vector<std::string>& types) const;  // throws StreamGap
  bool fence_holds(const std::string& group_id, const std::optional<Fence>& fence);
  void check_fence(const std::string& group_id, const std::optional<Fence>& fence);  // throws LeaseLost
  FeedCursor head_locked() const;

  struct Stream {
    std::vector<size_t> entries;  // indexes into log_
    Timestamp updated_at{};
  };
  std::vector<AppendOutcome> append_locked(std::vector<AppendRequest> requests);
  std::vector<Message> read_locked(std::string_view stream_id, const StreamRange& range) const;

  std::mutex mutex_;
  int64_t next_epoch_ = 1;
  uint64_t next_xid_ = 1;       // one per append transaction, so cursors look like PostgreSQL's
  std::vector<FeedEntry> log_;  // in commit order
  std::map<std::string, Stream, std::less<>> streams_;
  std::unordered_map<std::string, size_t> by_id_;
  std::map<std::string, Snapshot, std::less<>> snapshots_;
  std::multimap<Timestamp, Message> scheduled_;
  std::vector<UndeliverableMessage> undeliverable_;  // in the order they were found
  std::map<std::string, Group, std::less<>> groups_;
  std::map<std::pair<std::string, std::string>, Json> projections_;
};

}  // namespace cairn
