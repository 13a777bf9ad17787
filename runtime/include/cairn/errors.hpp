// Typed errors Cairn reports to callers; each kind maps to one CLI exit code.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>

namespace cairn {

enum class ErrorKind { bad_input, conflict, rejected, store };

class Error : public std::runtime_error {
 public:
  Error(ErrorKind kind, const std::string& what) : std::runtime_error(what), kind_(kind) {}
  ErrorKind kind() const noexcept { return kind_; }

 private:
  ErrorKind kind_;
};

// Malformed JSON, unknown types, hostile ids, oversized payloads: the caller's fault.
class BadInput : public Error {
 public:
  explicit BadInput(const std::string& what) : Error(ErrorKind::bad_input, what) {}
};

// Optimistic concurrency: the stream was not at the expected seq; nothing was written.
class ConcurrencyConflict : public Error {
 public:
  ConcurrencyConflict(std::string stream, int64_t expected, int64_t actual)
      : Error(ErrorKind::conflict, "stream '" + stream + "': expected seq " + std::to_string(expected) +
                                       ", stream is at " + std::to_string(actual)),
        stream_(std::move(stream)), expected_(expected), actual_(actual) {}
  const std::string& stream() const noexcept { return stream_; }
  int64_t expected() const noexcept { return expected_; }
  int64_t actual() const noexcept { return actual_; }

 private:
  std::string stream_;
  int64_t expected_;
  int64_t actual_;
};

// A decide handler refused the command (a business rule); nothing was written.
class Rejected : public Error {
 public:
  explicit Rejected(const std::string& what) : Error(ErrorKind::rejected, what) {}
};

// The backend failed (connection lost, schema missing, ...).
class StoreError : public Error {
 public:
  explicit StoreError(const std::string& what) : Error(ErrorKind::store, what) {}
};

// The database could not be reached, or the connection broke before the outcome was known: nobody
// is at fault and the same call may succeed later. Consumers retry it without counting an attempt.
class Unavailable : public StoreError {
 public:
  explicit Unavailable(const std::string& what) : StoreError(what) {}
};

// A consumer's write was refused because its process no longer owns the slice (its lease
// session ended and another process took the slice over); nothing of it was committed.
class LeaseLost : public StoreError {
 public:
  explicit LeaseLost(const std::string& what) : StoreError(what) {}
};

// A consumer was about to record a stream's progress past events of the types it reads that never
// reached it: its progress does not cover them and they come after the group's start (the feed
// skipped them). Nothing was committed; the stream's events after `after_seq` are to be read from
// the stream itself.
class StreamGap : public StoreError {
 public:
  StreamGap(std::string stream, int64_t after_seq, int64_t before_seq)
      : StoreError("stream '" + stream + "': events after seq " + std::to_string(after_seq) + " and before seq " +
                   std::to_string(before_seq) + " never reached the consumer"),
        stream_(std::move(stream)), after_seq_(after_seq) {}
  const std::string& stream() const noexcept { return stream_; }
  int64_t after_seq() const noexcept { return after_seq_; }

 private:
  std::string stream_;
  int64_t after_seq_;
};

// The process exit code the CLI uses for each kind (0 is success).
inline int exit_code(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::bad_input: return 2;
    case ErrorKind::conflict: return 3;
    case ErrorKind::rejected: return 4;
    case ErrorKind::store: return 1;
  }
  return 1;
}

}  // namespace cairn
