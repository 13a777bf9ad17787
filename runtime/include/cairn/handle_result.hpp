// What handling one command produced: its events, or why not.
#pragma once

#include <string>
#include <vector>

#include <cairn/errors.hpp>
#include <cairn/message.hpp>

namespace cairn {

struct HandleResult {
  // lease_lost: a delivered command's consumer-group slice changed owners; nothing was written.
  // overloaded: the stream's queue was full; nothing was decided (try again later).
  enum class Status { ok, rejected, conflict, invalid, failed, lease_lost, unavailable, overloaded };
  Status status = Status::failed;
  std::vector<Message> events;  // as stored
  std::string error;            // the rejection's text, or what went wrong
  std::string rejection_code;   // rejected: the rejection's code (e.g. "insufficient_funds"); else empty
  int64_t seq = 0;              // the stream's head afterwards (its actual head on conflict)

  bool ok() const { return status == Status::ok; }
  static HandleResult failure(Status status, std::string error, int64_t seq = 0) {
    return {status, {}, std::move(error), {}, seq};
  }
};

inline int exit_code(HandleResult::Status status) {
  switch (status) {
    case HandleResult::Status::ok: return 0;
    case HandleResult::Status::rejected: return exit_code(ErrorKind::rejected);
    case HandleResult::Status::conflict: return exit_code(ErrorKind::conflict);
    case HandleResult::Status::invalid: return exit_code(ErrorKind::bad_input);
    case HandleResult::Status::failed:
    case HandleResult::Status::lease_lost:
    case HandleResult::Status::unavailable:
    case HandleResult::Status::overloaded: return exit_code(ErrorKind::store);
  }
  return 1;
}

}  // namespace cairn
