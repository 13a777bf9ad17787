// Least privilege: what each kind of role needs on the cairn schema and on the read models.
#pragma once

#include <string>
#include <vector>

#include <cairn/read_model_table.hpp>

namespace cairn::postgres {

enum class Access {
  reader,  // reads the log, the groups and the read models: `cairn read | feed | trace | status | state`
  writer,  // also appends: `cairn append | handle | dispatch`, an embedding service's handle and dispatch
  worker,  // also keeps group progress and writes the read models: `cairn-worker`
};

// Parses "reader", "writer" or "worker"; throws BadInput otherwise.
Access parse_access(const std::string& text);

// The GRANT statements that give `role` exactly `access` on the current schema and `tables`.
std::vector<std::string> grant_statements(const std::string& role, Access access,
                                          const std::vector<ReadModelTable>& tables);

// Runs them in one transaction, as the schema owner, and returns them.
std::vector<std::string> grant(const std::string& database_url, const std::string& role, Access access,
                               const std::vector<ReadModelTable>& tables);

}  // namespace cairn::postgres
