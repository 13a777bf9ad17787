// The one PostgreSQL session per process that holds its slice leases: a lease lives exactly as
// long as that session, and a host that dies loses it within keepalive_bound.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <utility>

#include <pqxx/pqxx>

#include <cairn/store.hpp>

namespace cairn::postgres {

class LeaseSession {
 public:
  // TCP keepalives on both ends: the server ends the session of a host it cannot reach after
  // 10 s idle + 3 probes 5 s apart (or 25 s of unacknowledged data), which frees its leases.
  static constexpr std::chrono::seconds keepalive_bound{25};

  explicit LeaseSession(std::string url) : url_(std::move(url)) {}
  ~LeaseSession();

  // A lease on the slice: its epoch and the session incarnation it lives on; nullopt when
  // another process, or another part of this one, holds it.
  struct Taken {
    int64_t epoch;
    int lease_key;
    uint64_t incarnation;
  };
  std::optional<Taken> take(const std::string& group_id, uint32_t slice, const std::string& owner);
  void release(const std::string& group_id, uint32_t slice, const Taken& lease);
  // Whether the lease still holds: its session is up (checked with the server at most once a
  // second) and the watchdog has not freed it. Asking is the holder's sign of life.
  bool alive(const std::string& group_id, uint32_t slice, const Taken& lease);
  // The watchdog frees the lease once its holder has not asked alive() for `silence`: a runner
  // that is frozen or deadlocked but still connected must not keep its slices forever.
  void watch(const std::string& group_id, uint32_t slice, std::chrono::milliseconds silence);

  // Group membership lives on the session too: census() joins again after a reconnect.
  void join(const std::string& group_id);
  GroupCensus census(const std::string& group_id);
  void leave(const std::string& group_id);

 private:
  pqxx::connection& connection();  // opens a new incarnation when there is none
  void drop_connection();          // with it, every lease it held
  void join_locked(const std::string& group_id);
  void release_locked(const std::string& group_id, uint32_t slice, const Taken& lease);
  void watchdog();
  // Runs `work` on the session; a broken connection is dropped (with its leases) and rethrown.
  template <class Work>
  auto on_session(Work&& work);

  std::mutex mutex_;
  std::string url_;
  std::unique_ptr<pqxx::connection> connection_;
  uint64_t incarnation_ = 0;
  // The leases this session holds. Advisory locks are re-entrant within a session, so this
  // process's own leases are refused here.
  struct Held {
    Taken lease;
    std::chrono::milliseconds silence{0};  // 0: not watched
    std::chrono::steady_clock::time_point asked;
  };
  std::map<std::pair<std::string, uint32_t>, Held> held_;
  std::thread watchdog_;
  std::condition_variable stop_watchdog_;
  bool stopping_ = false;
  std::set<std::string> joined_;
  std::chrono::steady_clock::time_point verified_{};
};

}  // namespace cairn::postgres
