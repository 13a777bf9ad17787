// Runs a suite on the in-memory backend.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include "backends/memory/memory_store.hpp"
#include "tests/support/backend.hpp"

namespace cairn::testing {

std::string fresh_backend_url() { return ""; }
std::string backend_url() { return ""; }
bool backend_is_postgres() { return false; }
std::unique_ptr<Store> fresh_store(Limits limits) { return std::make_unique<MemoryStore>(limits); }

}  // namespace cairn::testing
