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
};

// Each throws BadInput naming what is wrong.
void validate_stream_id(std::string_view stream_id, const Limits& limits = {});
void validate_type(std::string_view type, const Limits& limits = {});
void validate_uuid(std::string_view id, std::string_view what);
void validate_message(const Message& m, const Limits& limits = {});

// Stable 32-bit hash of a stream id (FNV-1a): slices of the feed are hash % slice_count.
uint32_t stream_hash(std::string_view stream_id);

}  // namespace cairn
