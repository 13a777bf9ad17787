// What an operator sees and does, shared by the `cairn` CLI and the web console: the feed's and
// the consumer groups' status as JSON, the actions on groups and stopped streams (checked the same
// way for both), a page of a stream, and a correlation trace as a tree. Internal to libcairn and
// its tools: nothing here is in the public edge.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <cairn/message.hpp>
#include <cairn/store.hpp>

namespace cairn::operations {

// Group names follow the message type rules (BadInput otherwise).
void validate_group(const std::string& group);
// The stored group; BadInput naming it when there is none.
GroupState require_group(Store& store, const std::string& group);

// {"horizon_xid", "held", "age_seconds", "stalled" (older than warn_seconds), "holder": {...} or null}
Json feed_json(const FeedHealth& health, double warn_seconds);
// {"pending", "next_due" (RFC 3339 or null)}
Json schedule_json(const ScheduleSummary& summary);
// {"id", "stream_id", "due", "error"}
Json undeliverable_json(const UndeliverableMessage& message);
// One group as `cairn status --json` prints it: {"group", "state" ("active"|"stopped"),
// "lag_events" (summed over slices), "lag_seconds" (the slowest slice's), "slice_count",
// "slices": [{"slice", "cursor", "owner" ("" when nobody holds it), "lag_events", "lag_seconds"}],
// "failed_streams": [{"stream_id", "stopped", "seq", "message_id", "attempts", "error"}]}.
Json group_status(Store& store, const GroupState& group);

// The actions, each refused with BadInput (naming the group or stream) when it cannot apply.
void stop_group(Store& store, const std::string& group);
void resume_group(Store& store, const std::string& group);
// Re-handles the stopped stream from its failed event, or (skip) from the one after it.
void resume_stream(Store& store, const std::string& group, const std::string& stream, bool skip);

// A page of a stream: {"stream_id", "head_seq", "messages": [...], "next_after": seq or null
// when the page reached the head}. `limit` is 1..1000.
Json stream_page(Store& store, const std::string& stream, int64_t after_seq, size_t limit);

// A causal trail: the messages of one correlation (log order) linked by causation_id. A message
// whose cause is not in the trail (or is itself) is a root.
struct Trail {
  std::string correlation_id;
  std::vector<Message> messages;
  std::vector<size_t> roots;                  // indexes into messages, in log order
  std::vector<std::vector<size_t>> children;  // per message, in log order
  bool cut = false;                           // more than the limit: the first `limit` only
};
// The trail of a message id or a correlation id (at most `limit` messages, the first in log
// order). BadInput when no message has that id or correlation id.
Trail read_trail(Store& store, const std::string& id, size_t limit);
// Visits the tree depth-first: each cause before what it caused, siblings in log order.
void walk(const Trail& trail, const std::function<void(const Message&, size_t depth)>& visit);
// {"correlation_id", "cut", "count", "nodes": [...]}: the tree in depth-first order (each cause
// before what it caused, siblings in log order), each node the message's JSON with "depth" (0 for
// a root), "parent" (its cause's id, null for a root) and "children" (how many). Flat, because a
// chain of causes may be deeper than JSON should nest.
Json trail_json(const Trail& trail);

}  // namespace cairn::operations
