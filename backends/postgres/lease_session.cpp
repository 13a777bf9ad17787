#include "backends/postgres/lease_session.hpp"

#include <algorithm>

#include "backends/postgres/connect.hpp"

namespace cairn::postgres {
namespace {

// The client's side of the keepalives: a dead server is noticed as the server notices a dead client.
const std::string keepalives = "keepalives=1 keepalives_idle=10 keepalives_interval=5 keepalives_count=3";

}  // namespace

LeaseSession::~LeaseSession() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  stop_watchdog_.notify_all();
  if (watchdog_.joinable()) watchdog_.join();
}

void LeaseSession::drop_connection() {
  connection_.reset();
  held_.clear();
  joined_.clear();
}

template <class Work>
auto LeaseSession::on_session(Work&& work) {
  try {
    return work(connection());
  } catch (const pqxx::broken_connection&) {
    drop_connection();  // every lease of this session is gone with it
    throw;
  }
}

pqxx::connection& LeaseSession::connection() {
  if (connection_ && connection_->is_open()) return *connection_;
  drop_connection();
  auto fresh = connect(with_parameters(url_, keepalives));
  pqxx::nontransaction tx(*fresh);
  // The server's side: it is the server that must notice a dead host to free the leases.
  tx.exec0("SET tcp_keepalives_idle = 10; SET tcp_keepalives_interval = 5; SET tcp_keepalives_count = 3; "
           "SET tcp_user_timeout = 25000; SET application_name = 'cairn lease session'");
  connection_ = std::move(fresh);
  ++incarnation_;
  verified_ = std::chrono::steady_clock::now();
  return *connection_;
}

std::optional<LeaseSession::Taken> LeaseSession::take(const std::string& group_id, uint32_t slice,
                                                      const std::string& owner) {
  std::lock_guard lock(mutex_);
  if (held_.count({group_id, slice})) return std::nullopt;
  return on_session([&](pqxx::connection& c) -> std::optional<Taken> {
    pqxx::work tx(c);
    auto rows = tx.exec_params("SELECT epoch, lease_key FROM cairn.take_lease($1, $2, $3)", group_id,
                               static_cast<int>(slice), owner);
    tx.commit();
    if (rows.empty()) return std::nullopt;
    Taken taken{rows[0][0].as<int64_t>(), rows[0][1].as<int>(), incarnation_};
    held_[{group_id, slice}] = {taken, std::chrono::milliseconds(0), std::chrono::steady_clock::now()};
    return taken;
  });
}

void LeaseSession::join_locked(const std::string& group_id) {
  if (joined_.count(group_id)) return;
  on_session([&](pqxx::connection& c) {
    pqxx::nontransaction tx(c);
    tx.exec_params("SELECT pg_advisory_lock_shared(1129470290, member_key) FROM cairn.consumer_groups "
                   "WHERE group_id = $1",
                   group_id);
    return 0;
  });
  joined_.insert(group_id);
}

void LeaseSession::join(const std::string& group_id) {
  std::lock_guard lock(mutex_);
  join_locked(group_id);
}

GroupCensus LeaseSession::census(const std::string& group_id) {
  std::lock_guard lock(mutex_);
  join_locked(group_id);
  return on_session([&](pqxx::connection& c) {
    pqxx::nontransaction tx(c);
    GroupCensus census;
    for (const auto& r : tx.exec_params("SELECT members, owner FROM cairn.group_census($1)", group_id)) {
      census.members = r[0].as<size_t>();
      census.owners.push_back(r[1].c_str());
    }
    return census;
  });
}

void LeaseSession::leave(const std::string& group_id) {
  std::lock_guard lock(mutex_);
  if (!joined_.erase(group_id) || !connection_ || !connection_->is_open()) return;
  try {
    pqxx::nontransaction tx(*connection_);
    tx.exec_params("SELECT pg_advisory_unlock_shared(1129470290, member_key) FROM cairn.consumer_groups "
                   "WHERE group_id = $1",
                   group_id);
  } catch (const std::exception&) {
    drop_connection();  // closing the session leaves every group anyway
  }
}

void LeaseSession::release(const std::string& group_id, uint32_t slice, const Taken& lease) {
  std::lock_guard lock(mutex_);
  release_locked(group_id, slice, lease);
}

void LeaseSession::release_locked(const std::string& group_id, uint32_t slice, const Taken& lease) {
  auto it = held_.find({group_id, slice});
  if (it == held_.end() || it->second.lease.epoch != lease.epoch || lease.incarnation != incarnation_ ||
      !connection_ || !connection_->is_open())
    return;  // gone already
  held_.erase(it);
  try {
    pqxx::work tx(*connection_);
    tx.exec_params("SELECT cairn.release_lease($1, $2, $3, $4)", group_id, static_cast<int>(slice), lease.epoch,
                   lease.lease_key);
    tx.commit();
  } catch (const std::exception&) {
    drop_connection();  // closing the session releases its locks anyway
  }
}

bool LeaseSession::alive(const std::string& group_id, uint32_t slice, const Taken& lease) {
  std::lock_guard lock(mutex_);
  auto it = held_.find({group_id, slice});
  if (it == held_.end() || it->second.lease.epoch != lease.epoch || lease.incarnation != incarnation_ ||
      !connection_ || !connection_->is_open())
    return false;
  auto now = std::chrono::steady_clock::now();
  it->second.asked = now;
  if (now - verified_ < std::chrono::seconds(1)) return true;
  try {
    pqxx::nontransaction tx(*connection_);
    tx.exec1("SELECT 1");
    verified_ = now;
    return true;
  } catch (const std::exception&) {
    drop_connection();
    return false;
  }
}

void LeaseSession::watch(const std::string& group_id, uint32_t slice, std::chrono::milliseconds silence) {
  std::lock_guard lock(mutex_);
  auto it = held_.find({group_id, slice});
  if (it == held_.end()) return;
  it->second.silence = silence;
  it->second.asked = std::chrono::steady_clock::now();
  if (!watchdog_.joinable()) watchdog_ = std::thread([this] { watchdog(); });
}

void LeaseSession::watchdog() {
  std::unique_lock lock(mutex_);
  while (!stop_watchdog_.wait_for(lock, std::chrono::milliseconds(250), [this] { return stopping_; })) {
    auto now = std::chrono::steady_clock::now();
    std::vector<std::pair<std::pair<std::string, uint32_t>, Taken>> silent;
    for (const auto& [key, held] : held_)
      if (held.silence.count() > 0 && now - held.asked > held.silence) silent.emplace_back(key, held.lease);
    for (const auto& [key, lease] : silent) release_locked(key.first, key.second, lease);
  }
}

}  // namespace cairn::postgres
