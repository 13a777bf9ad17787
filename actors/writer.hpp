// The group-commit writer: the appends stream actors queue, written together by a few threads at once.
#pragma once

#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include "backends/wakeup.hpp"
#include "actors/actor_metrics.hpp"
#include "actors/protocol.hpp"

namespace cairn {

// `threads` threads share one queue. A thread that is free takes every queued append (up to
// `max_batch`) into one Store::append_many, so an append never waits behind a busy thread while
// another is idle, and each transaction carries all that queued up meanwhile. A stream has one
// append in flight at a time (its actor waits for the answer), so its appends stay in order
// whichever thread writes them. `max_batch` 1 turns group commit off. `wakeup` is told after
// every transaction that wrote something (it wakes local consumers). A courier thread delivers
// the answers and tells `wakeup`, so a writer goes back to the queue as soon as its transaction is
// done: each answer can wake a scheduler thread, and a batch's answers kept a writer away from its
// connection for ~150 us a transaction (~30 us each on a two-core virtual machine).
class Writer {
 public:
  Writer(Store& store, size_t threads, size_t max_batch, std::shared_ptr<Wakeup> wakeup,
         const WritePathMetrics& metrics);
  ~Writer();  // writes what is queued, then joins the threads
  Writer(const Writer&) = delete;
  Writer& operator=(const Writer&) = delete;

  // Queues `request`; `to` gets (appended_atom, Appended) once it is written or has failed.
  void append(AppendRequest request, stream_actor to);

 private:
  struct Queued {
    AppendRequest request;
    stream_actor to;
  };
  struct Answers {
    std::vector<std::pair<stream_actor, Appended>> to_actors;
    bool wrote = false;
  };
  void run();
  void write(std::vector<Queued> batch);
  void deliver();

  Store& store_;
  size_t max_batch_;
  std::shared_ptr<Wakeup> wakeup_;
  const WritePathMetrics& metrics_;
  std::mutex mutex_;
  std::condition_variable queued_;
  std::deque<Queued> queue_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;

  std::mutex answers_mutex_;
  std::condition_variable answered_;
  std::deque<Answers> answers_;
  bool delivered_all_ = false;  // set once the writers are joined: the courier empties its queue and stops
  std::thread courier_;
};

}  // namespace cairn
