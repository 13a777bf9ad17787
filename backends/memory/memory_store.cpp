#include "backends/memory/memory_store.hpp"

#include <algorithm>

#include "backends/append_rules.hpp"

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
    switch (decision.kind) {
      case AppendDecision::Kind::invalid: outcome.error = decision.error; break;
      case AppendDecision::Kind::conflict: outcome.status = AppendOutcome::Status::conflict; break;
      case AppendDecision::Kind::already_stored:
        outcome.status = AppendOutcome::Status::appended;
        for (auto& e : existing) outcome.messages.push_back(std::move(*e));
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
        break;
    }
    if (stream.entries.empty()) streams_.erase(request.stream_id);
  }
  return outcomes;
}

std::vector<Message> MemoryStore::read_stream(std::string_view stream_id, const StreamRange& range) {
  std::lock_guard lock(mutex_);
  std::vector<Message> out;
  auto it = streams_.find(stream_id);
  if (it == streams_.end()) return out;
  for (size_t index : it->second.entries) {
    const auto& m = log_[index].message;
    if (m.seq <= range.after_seq) continue;
    if ((range.upto_seq && m.seq > *range.upto_seq) || (range.upto_time && m.created_at > *range.upto_time)) break;
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
    if (!(after < entry.cursor)) continue;
    if (!filter.types.empty() &&
        std::find(filter.types.begin(), filter.types.end(), entry.message.type) == filter.types.end())
      continue;
    if (filter.slice_count > 1 && stream_hash(entry.message.stream_id) % filter.slice_count != filter.slice) continue;
    out.push_back(entry);
  }
  return out;
}

std::vector<Message> MemoryStore::read_correlation(std::string_view correlation_id) {
  std::lock_guard lock(mutex_);
  std::vector<Message> out;
  for (const auto& entry : log_) {
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
  scheduled_.emplace(due, std::move(message));
}

std::vector<Message> MemoryStore::promote_due(Timestamp now, size_t limit) {
  std::lock_guard lock(mutex_);
  std::vector<AppendRequest> requests;
  auto end = scheduled_.upper_bound(now);
  for (auto it = scheduled_.begin(); it != end && requests.size() < limit;) {
    requests.push_back({it->second.stream_id, ExpectedSeq::any(), {std::move(it->second)}});
    it = scheduled_.erase(it);
  }
  std::vector<Message> promoted;
  for (auto& outcome : append_locked(std::move(requests)))
    for (auto& m : outcome.messages) promoted.push_back(std::move(m));
  return promoted;
}

std::vector<StreamInfo> MemoryStore::list_streams(size_t limit) {
  std::lock_guard lock(mutex_);
  std::vector<StreamInfo> out;
  for (const auto& [id, stream] : streams_)
    out.push_back({id, static_cast<int64_t>(stream.entries.size()), stream.updated_at});
  std::stable_sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.updated_at > b.updated_at; });
  if (out.size() > limit) out.resize(limit);
  return out;
}

}  // namespace cairn
