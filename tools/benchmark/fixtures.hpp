// Stored events for the benchmarks (written straight into the store) and the plain read they are set against.
#pragma once

#include <malloc.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <string>
#include <tuple>
#include <vector>

#include <pqxx/pqxx>

#include <cairn/store.hpp>
#include "tests/support/counter_actor.hpp"

namespace cairn::bench {

inline Message increment_event(const std::string& stream) {
  return make_message(stream, MessageTraits<counter::Incremented>::name, {{"by", 1}}, Json::object(),
                      MessageTraits<counter::Incremented>::revision);
}

// `per_stream` counter increments on each stream, up to 2000 rows per transaction.
inline void append_to_each(Store& store, const std::vector<std::string>& streams, long per_stream) {
  std::vector<AppendRequest> requests;
  size_t rows = 0;
  auto flush = [&] {
    if (!requests.empty()) store.append_many(std::move(requests));
    requests.clear();
    rows = 0;
  };
  for (const auto& stream : streams)
    for (long written = 0; written < per_stream;) {
      std::vector<Message> batch;
      for (; written < per_stream && rows < 2000; ++written, ++rows) batch.push_back(increment_event(stream));
      requests.push_back({stream, ExpectedSeq::any(), std::move(batch)});
      if (rows >= 2000) flush();
    }
  flush();
}

// `events` counter increments spread over 1000 streams (prefix0 ... prefix999), 2000 per transaction.
inline void append_spread(Store& store, long events, const std::string& prefix) {
  constexpr int streams = 1000, per_tx = 2000;
  for (long written = 0; written < events;) {
    std::vector<AppendRequest> requests;
    for (int s = 0; s < streams && written < events; ++s) {
      std::string stream = prefix + std::to_string(s);
      std::vector<Message> batch;
      for (int k = 0; k < per_tx / streams && written < events; ++k, ++written) batch.push_back(increment_event(stream));
      requests.push_back({stream, ExpectedSeq::any(), std::move(batch)});
    }
    store.append_many(std::move(requests));
  }
}

// The plain read catch-up figures are set against: every stored row, every column as COPY sends them.
struct CopyRead {
  long rows = 0;
  double per_second = 0;
};

inline CopyRead copy_read(const std::string& url) {
  auto start = std::chrono::steady_clock::now();
  CopyRead read;
  pqxx::connection c(url);
  pqxx::work tx(c);
  pqxx::stream_from stream(tx, "cairn.messages");
  std::tuple<long, std::string, std::string, long, std::string, int, std::string, std::string, std::string, std::string,
             long>
      row;
  while (stream >> row) ++read.rows;
  stream.complete();
  read.per_second =
      static_cast<double>(read.rows) / std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return read;
}

// Fresh planner statistics for the log after a bulk write, as autovacuum would gather on a live
// system (when it runs is up to its timer: without this, a run may plan with an empty table's).
inline void analyze(const std::string& url) {
  pqxx::connection c(url);
  pqxx::nontransaction tx(c);
  tx.exec0("ANALYZE cairn.messages, cairn.streams");
}

// This process's resident memory, from /proc/self/statm.
inline size_t resident_bytes() {
  std::ifstream statm("/proc/self/statm");
  size_t pages = 0, resident = 0;
  statm >> pages >> resident;
  return resident * static_cast<size_t>(sysconf(_SC_PAGESIZE));
}

// Bytes the allocator has handed out and not had back (every arena), from mallinfo2().
inline size_t heap_in_use() {
  auto info = mallinfo2();
  return info.uordblks + info.hblkhd;
}

}  // namespace cairn::bench
