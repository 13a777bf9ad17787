// Transaction ids written by another PostgreSQL cluster: refused when a store opens, renumbered by
// `cairn repair-xids` (docs/SCHEMA.md, "Moving a log to another cluster").
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include <pqxx/pqxx>

namespace cairn::postgres {

// Throws StoreError when the log or a consumer group's cursor holds a transaction id this cluster
// has not assigned yet: the database was restored from another cluster, whose ids mean nothing here.
void require_own_xids(pqxx::transaction_base& tx);

struct XidRepair {
  int64_t messages = 0;  // rows of cairn.messages renumbered
  int64_t cursors = 0;   // slice, replay and start cursors moved
};

// Renumbers such a log so that all of it sorts before every transaction of this cluster, in its
// position order, and moves every cursor so that no event it had not passed is skipped. Needs
// every worker stopped. Empty (and nothing changed) when the ids already belong to this cluster.
std::optional<XidRepair> repair_xids(const std::string& database_url);

}  // namespace cairn::postgres
