// What `cairn` and `cairn-worker` share on their command lines: integer options that mean what they
// say, and errors on one line.
#pragma once

#include <charconv>
#include <cstdint>
#include <string>
#include <string_view>

#include <CLI/CLI.hpp>

#include <cairn/validation.hpp>

namespace cairn::tools {

// An integer option's check, run on its text before CLI11 converts it. CLI11 2.1 converts in base 0
// ("010" is 8, "0x10" is 16), wraps "-1" into an unsigned option (SIZE_MAX) and clamps overflow;
// this accepts only plain decimal digits (no sign, no leading zero) whose value lies in [min, max].
// `max` must fit the option's type.
inline CLI::Validator decimal(uint64_t min, uint64_t max) {
  std::string range = "a decimal integer from " + std::to_string(min) + " to " + std::to_string(max);
  return CLI::Validator(
      [min, max, range](std::string& text) -> std::string {
        bool digits = !text.empty() && text.find_first_not_of("0123456789") == std::string::npos;
        if (!digits || (text.size() > 1 && text[0] == '0'))
          return "expected " + range + ", got '" + printable(text, 60) + "'";
        uint64_t value = 0;
        auto parsed = std::from_chars(text.data(), text.data() + text.size(), value);
        if (parsed.ec != std::errc() || value < min || value > max)
          return printable(text, 60) + " is out of range: expected " + range;
        return {};
      },
      "decimal in [" + std::to_string(min) + ", " + std::to_string(max) + "]");
}

// A usage error as one line on stderr, e.g. `cairn: --limit: 0 is out of range: ...`.
inline void one_line_failures(CLI::App& app, const std::string& program) {
  app.failure_message([program](const CLI::App*, const CLI::Error& e) {
    return program + ": " + printable(e.what(), 300) + " (see --help)\n";
  });
}

}  // namespace cairn::tools
