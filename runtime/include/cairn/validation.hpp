// The checks every message passes before any backend writes it (same rules on every backend).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <cairn/message.hpp>

namespace cairn {

struct Limits {
  size_t max_stream_id_bytes = 200;
  size_t max_type_bytes = 200;
  size_t max_payload_bytes = 1 << 20;  // serialized payload + metadata
  // correlation_id and causation_id: far below what PostgreSQL's btree on correlation_id takes
  // (about 2704 bytes), so no odd id can fail a group-commit batch.
  size_t max_trace_id_bytes = 200;
  // Arrays and objects nested in a payload or metadata, the outermost object counting 1. Copying,
  // printing and storing JSON recurse (PostgreSQL's jsonb too): the bound keeps every one of them
  // far from a stack overflow. Parsing checks it as it goes, without recursion.
  size_t max_json_depth = 64;
};

// The metadata keys Cairn acts on. Cairn alone sets them: `dispatched` makes the command-delivery
// group decide a command, `causation_id` marks a command as answered, `correlation_id` ties a trace.
inline constexpr std::string_view reserved_metadata_keys[] = {"dispatched", "causation_id", "correlation_id"};

// Each throws BadInput naming what is wrong.
// A name a user picks (stream id, projection key): non-empty, at most `max_bytes`, valid UTF-8, no
// control characters. `what` names it in the error, e.g. "stream id".
void validate_text(std::string_view text, std::string_view what, size_t max_bytes);
void validate_stream_id(std::string_view stream_id, const Limits& limits = {});
// Message types and consumer group names (`what`): ASCII letters, digits and . _ - : /
void validate_type(std::string_view type, const Limits& limits = {}, std::string_view what = "message type");
void validate_uuid(std::string_view id, std::string_view what);
// A rejection's code (cairn::reject): what callers and tests compare, while the text is for people
// and may change. A short identifier, 1 to 64 of [a-z0-9_.-]; anything else is a programming error.
void validate_rejection_code(std::string_view code);
void validate_message(const Message& m, const Limits& limits = {});
// A payload or metadata value, walked without recursion: nesting within max_json_depth, strings
// and keys valid UTF-8 without \u0000, numbers finite. `what` names it, e.g. "message x: payload";
// the error adds the JSON pointer of the offending value.
void validate_json(const Json& value, std::string_view what, const Limits& limits = {});
// validate_json of a message's payload and metadata, named "<kind> <type>: payload" (or metadata)
// on failure; the name is built only then, since every command and append passes here.
void validate_message_json(const Message& m, std::string_view kind, const Limits& limits = {});
// Parses JSON text a user supplied: throws BadInput naming `what` (e.g. "the payload") and where in
// it, for malformed text, nesting deeper than max_json_depth (checked while parsing, so deep input
// never reaches a recursive copy or dump), and numbers that do not fit: a float beyond double's
// range, an integer beyond int64/uint64 (it would silently become an approximate double), or a
// non-zero literal that underflows to 0.
Json parse_json(std::string_view text, std::string_view what, const Limits& limits = {});
// A correlation or causation id: non-empty, at most max_trace_id_bytes, UTF-8, no control characters.
void validate_trace_id(std::string_view id, std::string_view what, const Limits& limits = {});
// For a command sent from outside Cairn (Runtime::handle and dispatch, the CLI): throws BadInput
// naming any reserved key in its metadata (the correlation id make_message sets, the command's own
// id, is allowed), then sets its correlation id from `trace`.
void start_trace(Message& command, const Trace& trace, const Limits& limits = {});

// At most `max` bytes of `s` for an error message, control bytes (and every byte >= 0x80 when `s`
// is not valid UTF-8) as \xNN: a reason naming hostile input stays one printable line.
std::string printable(std::string_view s, size_t max = 80);

// Stable 32-bit hash of a stream id (FNV-1a): slices of the feed are hash % slice_count.
uint32_t stream_hash(std::string_view stream_id);

}  // namespace cairn
