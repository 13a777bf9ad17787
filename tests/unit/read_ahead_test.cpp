// The feed read ahead of a runner: pages come in order, work for another cursor or other slices is
// dropped, and a failure ahead reaches the caller, who asks again.
#include <doctest/doctest.h>

#include <algorithm>
#include <mutex>
#include <stdexcept>

#include "actors/read_ahead.hpp"

using cairn::FeedCursor;
using cairn::FeedEntry;
using cairn::FeedPage;
using cairn::ReadAhead;

namespace {

// A feed of `size` entries at positions 1..size (one xid); records each read's cursor.
struct FakeFeed {
  FakeFeed(int64_t entries, size_t page_limit) : size(entries), limit(page_limit) {}
  int64_t size;
  size_t limit;
  std::mutex mutex;
  std::vector<int64_t> reads;
  int64_t fail_after = -1;  // a read after this position throws (once)

  FeedPage read(FeedCursor after) {
    {
      std::lock_guard lock(mutex);
      reads.push_back(after.position);
      if (after.position == fail_after) {
        fail_after = -1;
        throw std::runtime_error("the database went away");
      }
    }
    FeedPage page;
    page.head = {1, size};
    auto first = after.position + 1;
    auto last = std::min<int64_t>(size, after.position + static_cast<int64_t>(limit));
    page.size = static_cast<size_t>(std::max<int64_t>(0, last - first + 1));
    if (page.size > 0) page.last = {1, last};
    page.decode = [first, last] {
      std::vector<FeedEntry> entries;
      for (auto p = first; p <= last; ++p) {
        FeedEntry entry;
        entry.message.position = p;
        entry.cursor = {1, p};
        entries.push_back(std::move(entry));
      }
      return entries;
    };
    return page;
  }

  std::vector<int64_t> read_log() {
    std::lock_guard lock(mutex);
    return reads;
  }
};

ReadAhead reader(FakeFeed& feed) {
  return ReadAhead([&feed](FeedCursor after, const ReadAhead::Key&) { return feed.read(after); }, feed.limit);
}

std::vector<int64_t> positions(const ReadAhead::Page& page) {
  std::vector<int64_t> out;
  for (const auto& entry : page.entries) out.push_back(entry.cursor.position);
  return out;
}

const ReadAhead::Key all{4, {0, 1, 2, 3}};

}  // namespace

TEST_CASE("read ahead: every page in order, each read once, and nothing read after a short page") {
  FakeFeed feed{7, 3};
  auto ahead = reader(feed);
  FeedCursor from;
  std::vector<int64_t> seen;
  for (;;) {
    auto page = ahead.take(from, all);
    for (auto p : positions(page)) seen.push_back(p);
    CHECK(page.page.decode == nullptr);
    if (page.page.size < feed.limit) break;
    from = page.page.last;
  }
  CHECK(seen == std::vector<int64_t>{1, 2, 3, 4, 5, 6, 7});
  ahead.drop();
  // Page 1 asked for; page 2 read with it; page 3 read ahead (short: nothing after it).
  CHECK(feed.read_log() == std::vector<int64_t>{0, 3, 6});
}

TEST_CASE("read ahead: a cursor moved back (a reset) or other slices drop the pages read for the old place") {
  FakeFeed feed{30, 3};
  auto ahead = reader(feed);
  auto first = ahead.take({}, all);
  CHECK(positions(first) == std::vector<int64_t>{1, 2, 3});
  // The pages after 3 are on their way; the caller starts over from the beginning instead.
  auto again = ahead.take({}, all);
  CHECK(positions(again) == std::vector<int64_t>{1, 2, 3});
  auto next = ahead.take(again.page.last, all);
  CHECK(positions(next) == std::vector<int64_t>{4, 5, 6});
  // A slice given up: the page after 6 read for four slices is not the one for three.
  auto fewer = ahead.take(next.page.last, {4, {0, 1, 2}});
  CHECK(positions(fewer) == std::vector<int64_t>{7, 8, 9});
  ahead.drop();
  auto reads = feed.read_log();
  CHECK(std::count(reads.begin(), reads.end(), 0) == 2);  // read again, not taken from the work ahead
  CHECK(std::count(reads.begin(), reads.end(), 6) == 3);  // ahead twice, then again for three slices
}

TEST_CASE("read ahead: a read that fails ahead of the caller is read again when asked for; one that fails then throws") {
  FakeFeed feed{12, 3};
  feed.fail_after = 6;
  auto ahead = reader(feed);
  auto one = ahead.take({}, all);
  // The page after 6 failed while it was read ahead: the page asked for still comes.
  auto two = ahead.take(one.page.last, all);
  CHECK(positions(two) == std::vector<int64_t>{4, 5, 6});
  auto three = ahead.take(two.page.last, all);
  CHECK(positions(three) == std::vector<int64_t>{7, 8, 9});
  ahead.drop();
  feed.fail_after = 9;
  CHECK_THROWS_WITH(ahead.take(three.page.last, all), "the database went away");
  CHECK(positions(ahead.take(three.page.last, all)) == std::vector<int64_t>{10, 11, 12});
}
