// A slice's contiguous low-water mark: the cursor below which every event read is handled, while
// its streams run ahead of one another.
#pragma once

#include <algorithm>
#include <chrono>
#include <deque>
#include <string>
#include <unordered_map>
#include <utility>

#include <cairn/store.hpp>

namespace cairn {

class SliceProgress {
 public:
  using Clock = std::chrono::steady_clock;
  explicit SliceProgress(FeedCursor saved) : saved_(saved), safe_(saved), read_(saved) {}

  // Where the slice's next read starts: every event up to here is read.
  FeedCursor read_upto() const { return read_; }
  // An event of the slice was read (in feed order) and waits to be handled.
  void read(const FeedCursor& cursor) {
    pending_.push_back({cursor, false});
    read_ = std::max(read_, cursor);
  }
  // Nothing of the slice lies between its last read event and `cursor` (a short read reached the head).
  void read_through(const FeedCursor& cursor) {
    read_ = std::max(read_, cursor);
    advance();
  }
  void handled(const FeedCursor& cursor) {
    auto it = std::lower_bound(pending_.begin(), pending_.end(), cursor,
                               [](const auto& entry, const FeedCursor& c) { return entry.first < c; });
    if (it != pending_.end() && it->first == cursor) it->second = true;
    advance();
  }
  size_t pending() const { return pending_.size(); }

  // A stream's own progress, kept while it is ahead of the low-water mark: saved once it has been
  // ahead for a while (a slow stream holds the mark back) or when the runner stops, so a restart
  // skips what the stream did past the cursor. Once the cursor passes it, it is dropped.
  void keep(ProgressMark mark, const FeedCursor& at, Clock::time_point now) {
    auto& kept = marks_[mark.stream_id];
    if (!kept.mark.stream_id.empty()) now = kept.since;  // ahead since its first unsaved mark
    kept = {std::move(mark), at, now};
  }
  bool has_marks() const { return !marks_.empty(); }
  bool cursor_moved() const { return saved_ < safe_; }
  FeedCursor safe() const { return safe_; }
  // The marks to save with the cursor: those still ahead of it, ahead for `patience` (all of them
  // when `patience` is zero).
  std::vector<ProgressMark> marks_due(Clock::time_point now, Clock::duration patience) {
    std::erase_if(marks_, [&](const auto& m) { return !(safe_ < m.second.at); });
    std::vector<ProgressMark> out;
    for (const auto& [stream, kept] : marks_)
      if (now - kept.since >= patience) out.push_back(kept.mark);
    return out;
  }
  void saved(const FeedCursor& cursor, const std::vector<ProgressMark>& marks) {
    saved_ = cursor;
    for (const auto& mark : marks)
      if (auto it = marks_.find(mark.stream_id); it != marks_.end() && it->second.mark.seq == mark.seq) marks_.erase(it);
  }

 private:
  void advance() {
    while (!pending_.empty() && pending_.front().second) {
      safe_ = pending_.front().first;
      pending_.pop_front();
    }
    if (pending_.empty()) safe_ = read_;
  }

  FeedCursor saved_, safe_, read_;
  std::deque<std::pair<FeedCursor, bool>> pending_;  // read, in feed order; true once handled
  struct Kept {
    ProgressMark mark;
    FeedCursor at;  // the cursor of the stream's last handled event
    Clock::time_point since;
  };
  std::unordered_map<std::string, Kept> marks_;  // not saved yet
};

}  // namespace cairn
