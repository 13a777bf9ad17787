// The Store interface: the append-only log every backend implements and the conformance suite checks.
#pragma once

#include <compare>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/message.hpp"
#include "runtime/validation.hpp"

namespace cairn {

// The seq a writer believes the stream is at: exactly(0) means "must not exist yet".
struct ExpectedSeq {
  static ExpectedSeq any() { return {true, 0}; }
  static ExpectedSeq exactly(int64_t seq) { return {false, seq}; }
  bool is_any = true;
  int64_t seq = 0;
};

struct AppendRequest {
  std::string stream_id;
  ExpectedSeq expected = ExpectedSeq::any();
  std::vector<Message> messages;  // ids set by the producer; seq, position and created_at are assigned
};

struct AppendOutcome {
  enum class Status { appended, conflict, invalid };
  Status status = Status::invalid;
  std::vector<Message> messages;  // as stored (also when an idempotent retry found them already there)
  int64_t head_seq = 0;           // the stream's head after the append, or its actual head on conflict
  std::string error;              // why, when invalid
};

// A place in the commit-safe global feed: (writing transaction id, position).
struct FeedCursor {
  uint64_t xid = 0;
  int64_t position = 0;
  std::string str() const;
  static FeedCursor parse(std::string_view text);  // throws BadInput
  auto operator<=>(const FeedCursor&) const = default;
};

struct FeedFilter {
  std::vector<std::string> types;  // empty: every type
  uint32_t slice_count = 1;        // the feed split by stream_hash(stream_id) % slice_count
  uint32_t slice = 0;
};

struct FeedEntry {
  Message message;
  FeedCursor cursor;
};

struct StreamRange {
  int64_t after_seq = 0;
  std::optional<int64_t> upto_seq;      // inclusive
  std::optional<Timestamp> upto_time;  // inclusive, by created_at
};

struct Snapshot {
  std::string stream_id;
  int64_t seq = 0;
  int state_revision = 1;
  Json state;
};

struct StreamInfo {
  std::string stream_id;
  int64_t head_seq = 0;
  Timestamp updated_at{};
};

class Store {
 public:
  virtual ~Store() = default;

  // Several streams in one transaction; each request succeeds or fails on its own.
  virtual std::vector<AppendOutcome> append_many(std::vector<AppendRequest> requests) = 0;

  // One stream, atomically. Throws ConcurrencyConflict or BadInput; nothing is written then.
  std::vector<Message> append(std::string stream_id, ExpectedSeq expected, std::vector<Message> messages);

  virtual std::vector<Message> read_stream(std::string_view stream_id, const StreamRange& range = {}) = 0;
  virtual int64_t head_seq(std::string_view stream_id) = 0;
  virtual std::optional<Message> find_message(std::string_view id) = 0;

  // Never returns an entry while one that sorts before it can still commit.
  virtual std::vector<FeedEntry> read_feed(FeedCursor after, size_t limit, const FeedFilter& filter = {}) = 0;

  // Every message carrying this correlation id, in log order.
  virtual std::vector<Message> read_correlation(std::string_view correlation_id) = 0;

  virtual void save_snapshot(const Snapshot& snapshot) = 0;
  virtual std::optional<Snapshot> load_snapshot(std::string_view stream_id) = 0;

  // A message that enters its stream (at the end) once `due` has passed and a promoter runs.
  virtual void schedule(Message message, Timestamp due) = 0;
  // Appends the due messages; concurrent promoters never append one twice. Returns what was appended.
  virtual std::vector<Message> promote_due(Timestamp now, size_t limit = 100) = 0;

  // Most recently written first.
  virtual std::vector<StreamInfo> list_streams(size_t limit = 100) = 0;

  const Limits& limits() const { return limits_; }

 protected:
  explicit Store(Limits limits) : limits_(limits) {}
  // Validates every request; returns the error per request (empty when valid), including duplicate ids.
  std::vector<std::string> validate_requests(const std::vector<AppendRequest>& requests) const;

 private:
  Limits limits_;
};

// Memory when `database_url` is empty, PostgreSQL otherwise.
std::unique_ptr<Store> open_store(const std::string& database_url, Limits limits = {});

}  // namespace cairn
