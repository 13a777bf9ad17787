// A slice's contiguous low-water mark: the cursor below which every event read is handled, while
// its streams run ahead of one another.
#pragma once

#include <algorithm>
#include <deque>
#include <string>
#include <unordered_map>
#include <utility>

#include "backends/store.hpp"

namespace cairn {

class SliceProgress {
 public:
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

  // A stream's own progress, saved with the cursor: a restart skips what it did past the cursor,
  // and Runtime::wait_for sees it.
  void keep(ProgressMark mark) { marks_[mark.stream_id] = std::move(mark); }
  bool unsaved() const { return saved_ < safe_ || !marks_.empty(); }
  FeedCursor safe() const { return safe_; }
  std::vector<ProgressMark> marks() const {
    std::vector<ProgressMark> out;
    for (const auto& [stream, mark] : marks_) out.push_back(mark);
    return out;
  }
  void saved(const FeedCursor& cursor) {
    saved_ = cursor;
    marks_.clear();
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
  std::unordered_map<std::string, ProgressMark> marks_;  // not saved yet
};

}  // namespace cairn
