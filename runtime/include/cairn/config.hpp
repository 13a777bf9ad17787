// Runtime configuration: which store, and the knobs of the write path.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include <cairn/validation.hpp>

namespace cairn {

class Store;

struct Config {
  std::string database_url;  // empty: the in-memory store
  bool migrate = false;      // apply missing schema migrations on start (PostgreSQL)
  Limits limits;
  size_t pool_size = 4;                 // PostgreSQL connections
  size_t max_queued_commands = 1000;    // per stream; more are refused at once as overloaded
  size_t writers = 2;                   // group-commit writer threads: appends in flight at once
  size_t writer_batch = 512;            // appends per transaction; 1 turns group commit off
  std::chrono::milliseconds idle_timeout = std::chrono::minutes(5);  // passivate stream actors idle this long
  size_t max_live_actors = 100000;      // and the least recently used above this many
  size_t scheduler_threads = 0;         // CAF worker threads; 0: 2 per core, at least 4
  // Tests only: wraps the opened store (e.g. to inject faults). SQL projectors work through a wrapper
  // that forwards Store::sql().
  std::function<std::unique_ptr<Store>(std::unique_ptr<Store>)> wrap_store;

  // database_url from CAIRN_DATABASE_URL.
  static Config from_env();
};

}  // namespace cairn
