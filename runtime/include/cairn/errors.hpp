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
