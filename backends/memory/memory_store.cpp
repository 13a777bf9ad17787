#include "backends/memory/memory_store.hpp"

#include <algorithm>

#include "backends/append_rules.hpp"
#include "backends/group_shape.hpp"
#include <cairn/errors.hpp>

namespace cairn {

std::vector<AppendOutcome> MemoryStore::append_many(std::vector<AppendRequest> requests) {
  std::lock_guard lock(mutex_);
  return append_locked(std::move(requests));
}

std::vector<AppendOutcome> MemoryStore::append_locked(std::vector<AppendRequest> requests) {
  auto errors = validate_requests(requests);
  std::vector<AppendOutcome> outcomes(requests.size());
  uint64_t xid = next_xid_++;
  auto stamp = now();
  for (size_t i = 0; i < requests.size(); ++i) {
    auto& request = requests[i];
    auto& outcome = outcomes[i];
    if (!errors[i].empty()) {
      outcome.error = errors[i];
      continue;
    }
    auto& stream = streams_[request.stream_id];
    int64_t head = static_cast<int64_t>(stream.entries.size());
    std::vector<std::optional<Message>> existing;
    for (const auto& m : request.messages) {
      auto it = by_id_.find(m.id);
      existing.push_back(it == by_id_.end() ? std::nullopt : std::optional<Message>(log_[it->second].message));
    }
    auto decision = decide_append(request, existing, head);
    outcome.head_seq = head;
    if (decision.kind != AppendDecision::Kind::invalid && request.mark &&
        !fence_holds(request.mark->group_id, request.mark->fence)) {
      outcome.status = AppendOutcome::Status::lease_lost;
      outcome.error = "the lease on the consumer group's slice was lost";
      continue;
    }
    switch (decision.kind) {
      case AppendDecision::Kind::invalid: outcome.error = decision.error; break;
      case AppendDecision::Kind::conflict: outcome.status = AppendOutcome::Status::conflict; break;
      case AppendDecision::Kind::already_stored:
        outcome.status = AppendOutcome::Status::appended;
        for (auto& e : existing) outcome.messages.push_back(std::move(*e));
        if (request.mark) mark_locked(*request.mark);
        break;
      case AppendDecision::Kind::write:
        outcome.status = AppendOutcome::Status::appended;
        for (auto& m : request.messages) {
          m.seq = ++head;
          m.position = static_cast<int64_t>(log_.size()) + 1;
          m.created_at = stamp;
          by_id_[m.id] = log_.size();
          stream.entries.push_back(log_.size());
          log_.push_back({m, {xid, m.position}});
          outcome.messages.push_back(m);
        }
        stream.updated_at = stamp;
        outcome.head_seq = head;
        if (request.mark) mark_locked(*request.mark);
        break;
    }
    if (stream.entries.empty()) streams_.erase(request.stream_id);
  }
  return outcomes;
}

std::optional<AppendOutcome> MemoryStore::append_under_lock(const std::string& stream_id, int64_t after_seq,
                                                            const LockedDecide& decide) {
  validate_stream_id(stream_id, limits());
  std::lock_guard lock(mutex_);
  auto request = decide(read_locked(stream_id, {after_seq, std::nullopt, std::nullopt}));
  if (!request) return std::nullopt;
  std::vector<AppendRequest> one;
  one.push_back(std::move(*request));
  return std::move(append_locked(std::move(one)).front());
}

std::vector<Message> MemoryStore::read_stream(std::string_view stream_id, const StreamRange& range) {
  std::lock_guard lock(mutex_);
  return read_locked(stream_id, range);
}

std::vector<Message> MemoryStore::read_locked(std::string_view stream_id, const StreamRange& range) const {
  std::vector<Message> out;
  auto it = streams_.find(stream_id);
  if (it == streams_.end()) return out;
  for (size_t index : it->second.entries) {
    const auto& m = log_[index].message;
    if (m.seq <= range.after_seq) continue;
    if ((range.upto_seq && m.seq > *range.upto_seq) || (range.upto_time && m.created_at > *range.upto_time) ||
        (range.limit && out.size() == *range.limit))
      break;
    out.push_back(m);
  }
  return out;
}

int64_t MemoryStore::head_seq(std::string_view stream_id) {
  std::lock_guard lock(mutex_);
  auto it = streams_.find(stream_id);
  return it == streams_.end() ? 0 : static_cast<int64_t>(it->second.entries.size());
}

std::optional<Message> MemoryStore::find_message(std::string_view id) {
  std::lock_guard lock(mutex_);
  auto it = by_id_.find(std::string(id));
  if (it == by_id_.end()) return std::nullopt;
  return log_[it->second].message;
}

std::vector<FeedEntry> MemoryStore::read_feed(FeedCursor after, size_t limit, const FeedFilter& filter) {
  std::lock_guard lock(mutex_);
  std::vector<FeedEntry> out;
  // Positions are dense and 1-based here, so the cursor's position indexes the log directly.
  for (size_t i = static_cast<size_t>(std::max<int64_t>(after.position, 0)); i < log_.size() && out.size() < limit;
       ++i) {
    const auto& entry = log_[i];
    if (after < entry.cursor && filter.matches(entry.message.stream_id, entry.message.type)) out.push_back(entry);
  }
  return out;
}

FeedCursor MemoryStore::feed_head() {
  std::lock_guard lock(mutex_);
  return head_locked();
}

// Appends are atomic under the mutex: no transaction is ever left open to hold the horizon.
FeedHealth MemoryStore::feed_health() {
  std::lock_guard lock(mutex_);
  return {next_xid_, false, std::nullopt};
}

std::vector<Message> MemoryStore::read_correlation(std::string_view correlation_id, size_t limit) {
  std::lock_guard lock(mutex_);
  std::vector<Message> out;
  for (const auto& entry : log_) {
    if (out.size() == limit) break;
    auto it = entry.message.metadata.find("correlation_id");
    if (it != entry.message.metadata.end() && it->is_string() && it->get_ref<const std::string&>() == correlation_id)
      out.push_back(entry.message);
  }
  return out;
}

void MemoryStore::save_snapshot(const Snapshot& snapshot) {
  validate_stream_id(snapshot.stream_id, limits());
  std::lock_guard lock(mutex_);
  auto it = snapshots_.find(snapshot.stream_id);
  if (it == snapshots_.end())
    snapshots_.emplace(snapshot.stream_id, snapshot);
  else if (snapshot.seq >= it->second.seq)
    it->second = snapshot;
}

std::optional<Snapshot> MemoryStore::load_snapshot(std::string_view stream_id) {
  std::lock_guard lock(mutex_);
  auto it = snapshots_.find(stream_id);
  if (it == snapshots_.end()) return std::nullopt;
  return it->second;
}

void MemoryStore::schedule(Message message, Timestamp due) {
  validate_message(message, limits());
  std::lock_guard lock(mutex_);
  // Like PostgreSQL's primary key on the id: a message scheduled again (or kept as undeliverable)
  // stays as it was. A linear search: the embedded store holds few scheduled messages.
  auto scheduled = [&](const auto& entry) { return entry.second.id == message.id; };
  auto kept = [&](const UndeliverableMessage& u) { return u.id == message.id; };
  if (std::any_of(scheduled_.begin(), scheduled_.end(), scheduled) ||
      std::any_of(undeliverable_.begin(), undeliverable_.end(), kept))
    return;
  scheduled_.emplace(due, std::move(message));
}

Promotion MemoryStore::promote_due(Timestamp now, size_t limit) {
  std::lock_guard lock(mutex_);
  std::vector<AppendRequest> requests;
  std::vector<UndeliverableMessage> claimed;
  auto end = scheduled_.upper_bound(now);
  for (auto it = scheduled_.begin(); it != end && requests.size() < limit;) {
    claimed.push_back({it->second.id, it->second.stream_id, it->first, ""});
    requests.push_back({it->second.stream_id, ExpectedSeq::any(), {std::move(it->second)}});
    it = scheduled_.erase(it);
  }
  auto promotion = sort_promotion(std::move(claimed), append_locked(std::move(requests)));
  undeliverable_.insert(undeliverable_.end(), promotion.undeliverable.begin(), promotion.undeliverable.end());
  return promotion;
}

std::vector<UndeliverableMessage> MemoryStore::undeliverable_messages(size_t limit) {
  std::lock_guard lock(mutex_);
  auto out = undeliverable_;
  std::stable_sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.due < b.due; });
  if (out.size() > limit) out.resize(limit);
  return out;
}

ScheduleSummary MemoryStore::schedule_summary() {
  std::lock_guard lock(mutex_);
  if (scheduled_.empty()) return {};
  return {static_cast<int64_t>(scheduled_.size()), scheduled_.begin()->first};
}

std::vector<StreamInfo> MemoryStore::list_streams(size_t limit, std::string_view prefix) {
  std::lock_guard lock(mutex_);
  std::vector<StreamInfo> out;
  // The ids starting with the prefix are consecutive in the map, from the prefix on.
  for (auto it = streams_.lower_bound(prefix); it != streams_.end() && it->first.starts_with(prefix); ++it)
    out.push_back({it->first, static_cast<int64_t>(it->second.entries.size()), it->second.updated_at});
  std::stable_sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.updated_at > b.updated_at; });
  if (out.size() > limit) out.resize(limit);
  return out;
}

// -- consumer groups --

MemoryStore::Group& MemoryStore::group(const std::string& group_id) {
  auto it = groups_.find(group_id);
  if (it == groups_.end()) throw BadInput("no consumer group '" + group_id + "'");
  return it->second;
}

FeedCursor MemoryStore::head_locked() const { return log_.empty() ? FeedCursor{} : log_.back().cursor; }

GroupState MemoryStore::ensure_group(const std::string& group_id, uint32_t slice_count, StartFrom start) {
  std::lock_guard lock(mutex_);
  auto it = groups_.find(group_id);
  if (it != groups_.end()) return it->second.state;
  Group g;
  g.state = {group_id, true, std::max<uint32_t>(slice_count, 1), 1, {}, {}};
  g.start = start.first_cursor([&] { return head_locked(); });
  g.cursors.assign(g.state.slice_count, g.start);
  g.owners.assign(g.state.slice_count, "");
  g.epochs.assign(g.state.slice_count, 0);
  for (auto& epoch : g.epochs) epoch = next_epoch_++;
  return groups_.emplace(group_id, std::move(g)).first->second.state;
}

ShapeCheck MemoryStore::check_shape(const std::string& group_id, const GroupShape& shape) {
  std::lock_guard lock(mutex_);
  auto& g = group(group_id);
  auto passed = [&](const std::vector<std::string>& added) {
    int64_t count = 0;
    for (const auto& entry : log_) {
      auto slice = stream_hash(entry.message.stream_id) % g.state.slice_count;
      count += std::find(added.begin(), added.end(), entry.message.type) != added.end() &&
               !(g.cursors[slice] < entry.cursor);
    }
    return count;
  };
  return apply_shape_rule(g.state, shape, passed, [&](const std::vector<std::string>& types, bool bump) {
    g.state.types = types;
    g.state.generation += bump;
  });
}

std::optional<GroupState> MemoryStore::find_group(const std::string& group_id) {
  std::lock_guard lock(mutex_);
  auto it = groups_.find(group_id);
  if (it == groups_.end()) return std::nullopt;
  return it->second.state;
}

std::vector<GroupState> MemoryStore::list_groups() {
  std::lock_guard lock(mutex_);
  std::vector<GroupState> out;
  for (const auto& [id, g] : groups_) out.push_back(g.state);
  return out;
}

FeedCursor MemoryStore::load_cursor(const std::string& group_id, uint32_t slice) {
  std::lock_guard lock(mutex_);
  return group(group_id).cursors.at(slice);
}

bool MemoryStore::cursor_passed(const std::string& group_id, std::string_view stream_id, int64_t seq) {
  std::lock_guard lock(mutex_);
  auto& g = group(group_id);
  auto stream = streams_.find(stream_id);
  if (seq < 1 || stream == streams_.end() || static_cast<size_t>(seq) > stream->second.entries.size()) return false;
  const auto& entry = log_[stream->second.entries[static_cast<size_t>(seq) - 1]];
  return !(g.cursors.at(stream_hash(stream_id) % g.state.slice_count) < entry.cursor);
}

bool MemoryStore::save_progress(const std::string& group_id, Fence fence, int64_t generation, FeedCursor cursor,
                                const std::vector<ProgressMark>& marks) {
  std::lock_guard lock(mutex_);
  auto& g = group(group_id);
  check_fence(group_id, fence);
  if (g.state.generation != generation) return false;
  g.cursors.at(fence.slice) = cursor;
  for (const auto& mark : marks) mark_locked(mark);
  return true;
}

std::vector<StreamProgress> MemoryStore::load_progress(const std::string& group_id,
                                                       const std::vector<std::string>& stream_ids) {
  std::lock_guard lock(mutex_);
  auto& g = group(group_id);
  std::vector<StreamProgress> out;
  for (const auto& id : stream_ids) {
    auto it = g.streams.find(id);
    if (it != g.streams.end()) out.push_back(it->second);
  }
  return out;
}

std::vector<StreamProgress> MemoryStore::failed_streams(const std::string& group_id) {
  std::lock_guard lock(mutex_);
  std::vector<StreamProgress> out;
  for (const auto& [id, p] : group(group_id).streams)
    if (p.stopped || p.failed_seq > 0) out.push_back(p);
  return out;
}

// The first event of `types` after the group's start between the stored mark (`done`) and `mark`
// is one the runner that just met the stream was never handed.
void MemoryStore::check_skipped_locked(const Group& g, const ProgressMark& mark, int64_t done,
                                       const std::vector<std::string>& types) const {
  auto stream = streams_.find(mark.stream_id);
  if (stream == streams_.end()) return;
  const auto& entries = stream->second.entries;  // seq k at entries[k - 1]
  for (int64_t seq = done + 1; seq < mark.seq && seq <= static_cast<int64_t>(entries.size()); ++seq) {
    const auto& entry = log_[entries[static_cast<size_t>(seq - 1)]];
    bool read = types.empty() || std::find(types.begin(), types.end(), entry.message.type) != types.end();
    if (read && g.start < entry.cursor) throw StreamGap(mark.stream_id, seq - 1, mark.seq);
  }
}

void MemoryStore::mark_locked(const ProgressMark& mark) {
  auto& p = group(mark.group_id).streams[mark.stream_id];
  p.stream_id = mark.stream_id;
  p.seq = std::max(p.seq, mark.seq);
}

bool MemoryStore::fence_holds(const std::string& group_id, const std::optional<Fence>& fence) {
  if (!fence) return true;
  const auto& epochs = group(group_id).epochs;
  return fence->slice < epochs.size() && epochs[fence->slice] == fence->epoch;
}

void MemoryStore::check_fence(const std::string& group_id, const std::optional<Fence>& fence) {
  if (!fence_holds(group_id, fence))
    throw LeaseLost("the lease on slice " + std::to_string(fence->slice) + " of consumer group " + group_id +
                    " was lost (another owner took it)");
}

void MemoryStore::mark_handled(const ProgressMark& mark) {
  std::lock_guard lock(mutex_);
  check_fence(mark.group_id, mark.fence);
  mark_locked(mark);
}

void MemoryStore::stop_stream(const std::string& group_id, const StreamProgress& failure, std::optional<Fence> fence) {
  std::lock_guard lock(mutex_);
  check_fence(group_id, fence);
  auto& p = group(group_id).streams[failure.stream_id];
  auto seq = std::max(p.seq, failure.seq);  // where the stream was handled up to, never backwards
  p = failure;
  p.seq = seq;
  p.stopped = true;
}

void MemoryStore::resume_stream(const std::string& group_id, const std::string& stream_id, bool skip) {
  std::lock_guard lock(mutex_);
  auto& streams = group(group_id).streams;
  auto it = streams.find(stream_id);
  if (it == streams.end() || !it->second.stopped)
    throw BadInput("stream '" + stream_id + "' is not stopped in group '" + group_id + "'");
  it->second.stopped = false;
  it->second.attempts = 0;
  if (skip) it->second.seq = std::max(it->second.seq, it->second.failed_seq);
}

void MemoryStore::clear_failure(const std::string& group_id, const std::string& stream_id, std::optional<Fence> fence) {
  std::lock_guard lock(mutex_);
  check_fence(group_id, fence);
  auto& streams = group(group_id).streams;
  auto it = streams.find(stream_id);
  if (it == streams.end() || it->second.stopped) return;
  it->second.failed_seq = 0;
  it->second.message_id.clear();
  it->second.error.clear();
}

void MemoryStore::set_group_active(const std::string& group_id, bool active) {
  std::lock_guard lock(mutex_);
  group(group_id).state.active = active;
}

void MemoryStore::reset_group(const std::string& group_id, const std::optional<GroupShape>& shape) {
  std::lock_guard lock(mutex_);
  auto& g = group(group_id);
  g.state.generation += 1;
  g.state.replay_until = head_locked();
  if (shape) {
    g.state.types = shape->types;
    if (shape->slice_count != g.state.slice_count) {
      // The leases of the old slices are held by the reset; new slices start unowned.
      g.state.slice_count = shape->slice_count;
      g.owners.assign(shape->slice_count, "");
      g.epochs.assign(shape->slice_count, 0);
      for (auto& epoch : g.epochs) epoch = next_epoch_++;
    }
  }
  g.start = {};
  g.cursors.assign(g.state.slice_count, FeedCursor{});
  g.streams.clear();
}

std::vector<SliceStatus> MemoryStore::slice_status(const std::string& group_id) {
  std::lock_guard lock(mutex_);
  auto& g = group(group_id);
  std::vector<SliceStatus> out;
  for (uint32_t slice = 0; slice < g.state.slice_count; ++slice) {
    SliceStatus status{slice, g.cursors[slice], g.owners[slice], 0, 0};
    for (const auto& entry : log_) {
      if (!(g.cursors[slice] < entry.cursor) || stream_hash(entry.message.stream_id) % g.state.slice_count != slice)
        continue;
      if (status.lag_events++ == 0)
        status.lag_seconds = std::chrono::duration<double>(now() - entry.message.created_at).count();
    }
    out.push_back(status);
  }
  return out;
}

namespace {

// Released by clearing the owner, unless a re-slicing reset replaced the slice meanwhile.
class MemorySliceLease final : public SliceLease {
 public:
  MemorySliceLease(Fence fence, std::function<void()> release) : SliceLease(fence), release_(std::move(release)) {}
  ~MemorySliceLease() override { release_(); }
  bool alive() override { return true; }
  void free_when_silent(std::chrono::milliseconds) override {}  // no other process could take it

 private:
  std::function<void()> release_;
};

// Counted in the group while it lives.
class MemoryGroupMembership final : public GroupMembership {
 public:
  MemoryGroupMembership(std::function<GroupCensus()> census, std::function<void()> leave)
      : census_(std::move(census)), leave_(std::move(leave)) {}
  ~MemoryGroupMembership() override { leave_(); }
  GroupCensus census() override { return census_(); }

 private:
  std::function<GroupCensus()> census_;
  std::function<void()> leave_;
};

}  // namespace

std::unique_ptr<GroupMembership> MemoryStore::join_group(const std::string& group_id) {
  std::lock_guard lock(mutex_);
  ++group(group_id).members;
  return std::make_unique<MemoryGroupMembership>(
      [this, group_id] {
        std::lock_guard counted(mutex_);
        const auto& g = group(group_id);
        return GroupCensus{g.members, g.owners};
      },
      [this, group_id] {
        std::lock_guard left(mutex_);
        if (auto it = groups_.find(group_id); it != groups_.end()) --it->second.members;
      });
}

std::unique_ptr<SliceLease> MemoryStore::try_lease_slice(const std::string& group_id, uint32_t slice,
                                                         const std::string& owner) {
  std::lock_guard lock(mutex_);
  auto& g = group(group_id);
  if (slice >= g.state.slice_count) throw BadInput("consumer group " + group_id + " has no slice " + std::to_string(slice));
  if (!g.owners[slice].empty()) return nullptr;
  g.owners[slice] = owner;
  Fence fence{slice, g.epochs[slice] = next_epoch_++};
  return std::make_unique<MemorySliceLease>(fence, [this, group_id, fence] {
    std::lock_guard released(mutex_);
    auto& held = groups_.at(group_id);
    if (fence.slice < held.epochs.size() && held.epochs[fence.slice] == fence.epoch) held.owners[fence.slice].clear();
  });
}

bool MemoryStore::update_projection(const std::string& key, const ProgressMark& mark,
                                    const std::vector<std::string>& types,
                                    const std::function<Json(Json state)>& evolve) {
  std::lock_guard lock(mutex_);
  check_fence(mark.group_id, mark.fence);
  auto& g = group(mark.group_id);
  auto it = g.streams.find(mark.stream_id);
  int64_t done = it == g.streams.end() ? 0 : it->second.seq;
  if (done >= mark.seq) return false;
  if (mark.check_skipped) check_skipped_locked(g, mark, done, types);
  auto found = projections_.find({mark.group_id, key});
  auto next = evolve(found == projections_.end() ? Json() : found->second);  // may throw: nothing changes
  if (next.is_null())
    projections_.erase({mark.group_id, key});
  else
    projections_[{mark.group_id, key}] = std::move(next);
  mark_locked(mark);
  return true;
}

std::optional<Json> MemoryStore::load_projection(const std::string& group_id, const std::string& key) {
  std::lock_guard lock(mutex_);
  auto it = projections_.find({group_id, key});
  if (it == projections_.end()) return std::nullopt;
  return it->second;
}

std::vector<ProjectionView> MemoryStore::list_projections(const std::string& group_id, const std::string& after_key,
                                                          size_t limit) {
  std::lock_guard lock(mutex_);
  std::vector<ProjectionView> page;
  for (auto it = projections_.upper_bound({group_id, after_key});
       it != projections_.end() && it->first.first == group_id && page.size() < limit; ++it)
    page.push_back({it->first.second, it->second});
  return page;
}

void MemoryStore::clear_projections(const std::string& group_id) {
  std::lock_guard lock(mutex_);
  std::erase_if(projections_, [&](const auto& entry) { return entry.first.first == group_id; });
}

}  // namespace cairn
