// The backend a suite binary runs against: each binary links one of memory_backend.cpp / postgres_backend.cpp.
#pragma once

#include <memory>
#include <string>

#include <cairn/store.hpp>

namespace cairn::testing {

// The URL of an empty store of the backend under test ("" for memory; the same database, emptied, for PostgreSQL).
std::string fresh_backend_url();
// The same URL, without emptying anything (e.g. for a CLI run against what a test wrote).
std::string backend_url();
bool backend_is_postgres();

// An empty store of the backend under test.
std::unique_ptr<Store> fresh_store(Limits limits = {});

}  // namespace cairn::testing
