// The checks every message passes before any backend writes it (same rules on every backend).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "runtime/message.hpp"

namespace cairn {

struct Limits {
  size_t max_stream_id_bytes = 200;
  size_t max_type_bytes = 200;
  size_t max_payload_bytes = 1 << 20;  // serialized payload + metadata
  // correlation_id and causation_id: far below what PostgreSQL's btree on correlation_id takes
  // (about 2704 bytes), so no odd id can fail a group-commit batch.
  size_t max_trace_id_bytes = 200;
};

// The metadata keys Cairn acts on. Cairn alone sets them: `dispatched` makes the command-delivery
// group decide a command, `causation_id` marks a command as answered, `correlation_id` ties a trace.
inline constexpr std::string_view reserved_metadata_keys[] = {"dispatched", "causation_id", "correlation_id"};

// Each throws BadInput naming what is wrong.
void validate_stream_id(std::string_view stream_id, const Limits& limits = {});
void validate_type(std::string_view type, const Limits& limits = {});
void validate_uuid(std::string_view id, std::string_view what);
void validate_message(const Message& m, const Limits& limits = {});
// A correlation or causation id: non-empty, at most max_trace_id_bytes, UTF-8, no control characters.
void validate_trace_id(std::string_view id, std::string_view what, const Limits& limits = {});
// For a command sent from outside Cairn (Runtime::handle and dispatch, the CLI): throws BadInput
// naming any reserved key in its metadata (the correlation id make_message sets, the command's own
// id, is allowed), then sets its correlation id from `trace`.
void start_trace(Message& command, const Trace& trace, const Limits& limits = {});

// Stable 32-bit hash of a stream id (FNV-1a): slices of the feed are hash % slice_count.
uint32_t stream_hash(std::string_view stream_id);

}  // namespace cairn
