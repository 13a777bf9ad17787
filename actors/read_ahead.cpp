#include "actors/read_ahead.hpp"

namespace cairn {
namespace {

template <class T>
void settle(std::future<T>& work) {
  if (!work.valid()) return;
  try {
    work.get();
  } catch (const std::exception&) {
    // What is dropped was not asked for: its failure is nobody's.
  }
}

}  // namespace

ReadAhead::Page ReadAhead::decode(FeedPage page) {
  Page decoded{std::move(page), {}};
  decoded.entries = decoded.page.decode();
  decoded.page.decode = nullptr;
  return decoded;
}

void ReadAhead::drop() {
  settle(decoding_);
  settle(reading_);
}

ReadAhead::Page ReadAhead::take(FeedCursor from, const Key& key) {
  if (!(key == key_)) {
    drop();
    key_ = key;
  }
  Page page;
  if (decoding_.valid() && decoding_from_ == from) {
    page = decoding_.get();
  } else {
    drop();
    page = decode(read_(from, key_));
  }
  if (page.page.size < limit_) {
    settle(reading_);
    return page;
  }
  FeedPage next;
  try {
    if (reading_.valid() && reading_from_ == page.page.last) {
      next = reading_.get();
    } else {
      settle(reading_);
      next = read_(page.page.last, key_);
    }
  } catch (const std::exception&) {
    // The page asked for is in hand; the next one is read again when it is asked for, and fails
    // then if the database is still away.
    return page;
  }
  bool full = next.size >= limit_;
  auto after = next.last;
  decoding_from_ = page.page.last;
  decoding_ = std::async(std::launch::async, [next = std::move(next)]() mutable { return decode(std::move(next)); });
  if (full) {
    reading_from_ = after;
    reading_ = std::async(std::launch::async, [this, after, key = key_] { return read_(after, key); });
  }
  return page;
}

}  // namespace cairn
