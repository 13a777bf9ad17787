// The feed's commit horizon and the transaction holding it back (`cairn status` shows both).
#pragma once

#include <pqxx/pqxx>

#include <cairn/store.hpp>

namespace cairn::postgres {

// The horizon is the oldest transaction id still running anywhere in the cluster, other databases
// and prepared transactions included: the holder is whichever of those has exactly that id.
FeedHealth read_feed_health(pqxx::transaction_base& tx);

}  // namespace cairn::postgres
