// Store decorators for fault-injection tests: a forwarding base, and faults around commits.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <set>

#include <cairn/config.hpp>
#include <cairn/store.hpp>
#include <cairn/errors.hpp>

namespace cairn::testing {

// Forwards every call to the wrapped store; override what a test needs to break.
class ForwardingStore : public Store {
 public:
  explicit ForwardingStore(std::unique_ptr<Store> inner) : Store(inner->limits()), inner_(std::move(inner)) {}

  std::vector<AppendOutcome> append_many(std::vector<AppendRequest> requests) override {
    return inner_->append_many(std::move(requests));
  }
  std::optional<AppendOutcome> append_under_lock(const std::string& stream_id, int64_t after_seq,
                                                 const LockedDecide& decide) override {
    return inner_->append_under_lock(stream_id, after_seq, decide);
  }
  std::vector<Message> read_stream(std::string_view stream_id, const StreamRange& range) override {
    return inner_->read_stream(stream_id, range);
  }
  SqlTransactions* sql() override { return inner_->sql(); }
  int64_t head_seq(std::string_view stream_id) override { return inner_->head_seq(stream_id); }
  std::optional<Message> find_message(std::string_view id) override { return inner_->find_message(id); }
  std::vector<FeedEntry> read_feed(FeedCursor after, size_t limit, const FeedFilter& filter) override {
    return inner_->read_feed(after, limit, filter);
  }
  FeedCursor feed_head() override { return inner_->feed_head(); }
  FeedHealth feed_health() override { return inner_->feed_health(); }
  std::vector<Message> read_correlation(std::string_view correlation_id, size_t limit) override {
    return inner_->read_correlation(correlation_id, limit);
  }
  void save_snapshot(const Snapshot& snapshot) override { inner_->save_snapshot(snapshot); }
  std::optional<Snapshot> load_snapshot(std::string_view stream_id) override { return inner_->load_snapshot(stream_id); }
  void schedule(Message message, Timestamp due) override { inner_->schedule(std::move(message), due); }
  Promotion promote_due(Timestamp now, size_t limit) override { return inner_->promote_due(now, limit); }
  std::vector<UndeliverableMessage> undeliverable_messages(size_t limit) override {
    return inner_->undeliverable_messages(limit);
  }
  ScheduleSummary schedule_summary() override { return inner_->schedule_summary(); }
  std::vector<StreamInfo> list_streams(size_t limit, std::string_view prefix) override {
    return inner_->list_streams(limit, prefix);
  }
  GroupState ensure_group(const std::string& group_id, uint32_t slice_count, StartFrom start) override {
    return inner_->ensure_group(group_id, slice_count, start);
  }
  ShapeCheck check_shape(const std::string& group_id, const GroupShape& shape) override {
    return inner_->check_shape(group_id, shape);
  }
  std::optional<GroupState> find_group(const std::string& group_id) override { return inner_->find_group(group_id); }
  std::vector<GroupState> list_groups() override { return inner_->list_groups(); }
  FeedCursor load_cursor(const std::string& group_id, uint32_t slice) override {
    return inner_->load_cursor(group_id, slice);
  }
  bool save_progress(const std::string& group_id, Fence fence, int64_t generation, FeedCursor cursor,
                     const std::vector<ProgressMark>& marks) override {
    return inner_->save_progress(group_id, fence, generation, cursor, marks);
  }
  std::vector<StreamProgress> load_progress(const std::string& group_id,
                                            const std::vector<std::string>& stream_ids) override {
    return inner_->load_progress(group_id, stream_ids);
  }
  std::vector<StreamProgress> failed_streams(const std::string& group_id) override {
    return inner_->failed_streams(group_id);
  }
  void mark_handled(const ProgressMark& mark) override { inner_->mark_handled(mark); }
  void stop_stream(const std::string& group_id, const StreamProgress& failure, std::optional<Fence> fence) override {
    inner_->stop_stream(group_id, failure, fence);
  }
  void resume_stream(const std::string& group_id, const std::string& stream_id, bool skip) override {
    inner_->resume_stream(group_id, stream_id, skip);
  }
  void clear_failure(const std::string& group_id, const std::string& stream_id, std::optional<Fence> fence) override {
    inner_->clear_failure(group_id, stream_id, fence);
  }
  void set_group_active(const std::string& group_id, bool active) override { inner_->set_group_active(group_id, active); }
  void reset_group(const std::string& group_id, const std::optional<GroupShape>& shape) override {
    inner_->reset_group(group_id, shape);
  }
  std::vector<SliceStatus> slice_status(const std::string& group_id) override { return inner_->slice_status(group_id); }
  bool cursor_passed(const std::string& group_id, std::string_view stream_id, int64_t seq) override {
    return inner_->cursor_passed(group_id, stream_id, seq);
  }
  std::unique_ptr<GroupMembership> join_group(const std::string& group_id) override {
    return inner_->join_group(group_id);
  }
  std::unique_ptr<SliceLease> try_lease_slice(const std::string& group_id, uint32_t slice,
                                              const std::string& owner) override {
    return inner_->try_lease_slice(group_id, slice, owner);
  }
  bool update_projection(const std::string& key, const ProgressMark& mark, const std::vector<std::string>& types,
                         const std::function<Json(Json state)>& evolve) override {
    return inner_->update_projection(key, mark, types, evolve);
  }
  std::optional<Json> load_projection(const std::string& group_id, const std::string& key) override {
    return inner_->load_projection(group_id, key);
  }
  std::vector<ProjectionView> list_projections(const std::string& group_id, const std::string& after_key,
                                               size_t limit) override {
    return inner_->list_projections(group_id, after_key, limit);
  }
  void clear_projections(const std::string& group_id) override { inner_->clear_projections(group_id); }

 protected:
  Store& inner() { return *inner_; }

 private:
  std::unique_ptr<Store> inner_;
};

// Leaves chosen events out of the feed pages it reads, once each: a feed that skipped them.
class SkippingFeed final : public ForwardingStore {
 public:
  using ForwardingStore::ForwardingStore;

  void leave_out(const std::string& stream, int64_t seq) {
    std::lock_guard lock(mutex_);
    left_out_.insert({stream, seq});
  }
  // Whether the feed shows `entries` messages yet. On PostgreSQL it shows a commit only once no
  // older transaction is open (other test binaries run concurrently): a test that needs all of its
  // events in the runner's first page waits for this before it starts the consumers.
  bool shows(size_t entries) { return inner().read_feed({}, entries).size() == entries; }
  size_t dropped() const {
    std::lock_guard lock(mutex_);
    return dropped_;
  }

  FeedPage read_feed_page(FeedCursor after, size_t limit, const FeedFilter& filter) override {
    auto page = inner().read_feed_page(after, limit, filter);
    page.decode = [this, decode = std::move(page.decode)] {
      auto entries = decode();
      std::lock_guard lock(mutex_);
      std::erase_if(entries, [&](const FeedEntry& e) {
        if (!left_out_.erase({e.message.stream_id, e.message.seq})) return false;
        ++dropped_;
        return true;
      });
      return entries;
    };
    return page;
  }

 private:
  mutable std::mutex mutex_;
  std::set<std::pair<std::string, int64_t>> left_out_;
  size_t dropped_ = 0;
};

// Faults a command's delivery can meet. Each fires once, for the first write that carries a mark
// of `group` (the command-delivery group by default), once armed.
struct DeliveryFaults {
  std::string group = "cairn.commands";
  // append_many commits, then throws: the connection dropped after COMMIT (an in-doubt commit).
  std::atomic<bool> throw_after_commit{false};
  // mark_handled throws before writing: the process died between an append and its separate mark.
  std::atomic<bool> throw_before_mark{false};
  std::atomic<int> fired{0};
};

class FaultyStore final : public ForwardingStore {
 public:
  FaultyStore(std::unique_ptr<Store> inner, std::shared_ptr<DeliveryFaults> faults)
      : ForwardingStore(std::move(inner)), faults_(std::move(faults)) {}

  std::vector<AppendOutcome> append_many(std::vector<AppendRequest> requests) override {
    bool marked = false;
    for (const auto& r : requests) marked = marked || (r.mark && r.mark->group_id == faults_->group);
    auto outcomes = inner().append_many(std::move(requests));
    if (marked && faults_->throw_after_commit.exchange(false)) {
      ++faults_->fired;
      throw StoreError("connection lost after COMMIT was sent (injected by the test)");
    }
    return outcomes;
  }

  void mark_handled(const ProgressMark& mark) override {
    if (mark.group_id == faults_->group && faults_->throw_before_mark.exchange(false)) {
      ++faults_->fired;
      throw StoreError("the process died before the mark was written (injected by the test)");
    }
    inner().mark_handled(mark);
  }

 private:
  std::shared_ptr<DeliveryFaults> faults_;
};

// Makes `config`'s runtime wrap its store in a W, which `wrapped` points at once the runtime is made.
template <class W>
void wrap_store_in(Config& config, W*& wrapped) {
  config.wrap_store = [&wrapped](std::unique_ptr<Store> inner) {
    auto store = std::make_unique<W>(std::move(inner));
    wrapped = store.get();
    return std::unique_ptr<Store>(std::move(store));
  };
}

}  // namespace cairn::testing
