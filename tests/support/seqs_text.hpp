// A stream's seqs as "[2 4 6]", for a test's message when two lists differ.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace cairn::testing {

inline std::string seqs_text(const std::vector<int64_t>& seqs) {
  std::string out;
  for (auto seq : seqs) out += (out.empty() ? "" : " ") + std::to_string(seq);
  return "[" + out + "]";
}

}  // namespace cairn::testing
