// Reads a consumer group's feed ahead of its runner: while the runner hands out one page, the next
// is decoded and the one after it read.
#pragma once

#include <functional>
#include <future>
#include <vector>

#include <cairn/store.hpp>

namespace cairn {

class ReadAhead {
 public:
  // A page and its entries, decoded where it was read (the rows are freed there too).
  struct Page {
    FeedPage page;  // its decode spent
    std::vector<FeedEntry> entries;
  };
  // What the pages are read for: a page read for other slices is not the one asked for.
  struct Key {
    uint32_t slice_count = 0;
    std::vector<uint32_t> slices;
    bool operator==(const Key&) const = default;
  };
  using Read = std::function<FeedPage(FeedCursor after, const Key& key)>;

  // `read` reads the page after a cursor; `limit` is the size of a full page.
  ReadAhead(Read read, size_t limit) : read_(std::move(read)), limit_(limit) {}
  ~ReadAhead() { drop(); }
  ReadAhead(const ReadAhead&) = delete;
  ReadAhead& operator=(const ReadAhead&) = delete;

  // The page after `from`. After a full page the next one is decoded, and the one after that read,
  // while the caller works: at most one read and one decode in flight. Throws when the page asked
  // for cannot be read; a failure of the work ahead only stops it.
  Page take(FeedCursor from, const Key& key);

  // Waits for the work in flight and forgets it.
  void drop();

 private:
  static Page decode(FeedPage page);

  Read read_;
  size_t limit_;
  Key key_;
  FeedCursor decoding_from_, reading_from_;
  std::future<Page> decoding_;
  std::future<FeedPage> reading_;
};

}  // namespace cairn
