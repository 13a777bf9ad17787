// Runs the store conformance suite on the in-memory backend.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include "backends/memory/memory_store.hpp"
#include "tests/conformance/backend.hpp"

namespace cairn::testing {

std::unique_ptr<Store> fresh_store(Limits limits) { return std::make_unique<MemoryStore>(limits); }

}  // namespace cairn::testing
