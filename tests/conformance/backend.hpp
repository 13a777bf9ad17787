// The backend a conformance-suite binary runs against: each binary links one implementation.
#pragma once

#include <memory>

#include "backends/store.hpp"

namespace cairn::testing {

// An empty store of the backend under test (the same database, emptied, for PostgreSQL).
std::unique_ptr<Store> fresh_store(Limits limits = {});

}  // namespace cairn::testing
