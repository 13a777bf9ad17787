// How an append request relates to what is stored; every backend decides it the same way.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <cairn/store.hpp>

namespace cairn {

struct AppendDecision {
  enum class Kind { write, already_stored, conflict, invalid };
  Kind kind;
  std::string error;
};

// `existing[i]` is the stored message with the id of request.messages[i], if any; `head` the stream's head seq.
AppendDecision decide_append(const AppendRequest& request, const std::vector<std::optional<Message>>& existing,
                             int64_t head);

}  // namespace cairn
