// HTTP for tests of Cairn's endpoint: GET a path, find the address a process logged, and run
// promtool on a scrape.
#pragma once

#include <chrono>
#include <map>
#include <string>

namespace cairn::testing {

struct HttpReply {
  int status = 0;  // 0: nothing answered
  std::string body;
  std::string content_type;
  std::string error;  // why nothing answered
  std::multimap<std::string, std::string> headers;
  std::string header(const std::string& name) const;  // the first value, or ""
};

// GET http://ADDRESS/PATH, ADDRESS being "host:port".
HttpReply http_get(const std::string& address, const std::string& path,
                   std::chrono::seconds timeout = std::chrono::seconds(10));

// POST http://ADDRESS/PATH with a JSON body and, unless empty, an Authorization header.
HttpReply http_post(const std::string& address, const std::string& path, const std::string& body,
                    const std::string& authorization = "", std::chrono::seconds timeout = std::chrono::seconds(10));

// The HOST:PORT after the first "http://" in a log (where a process says it serves), or "".
std::string served_address(const std::string& log);

// `promtool check metrics` on the text: its output, empty when it found nothing wrong. Throws when
// promtool is not on PATH (tools/setup installs it): the check fails rather than skips.
std::string promtool_problems(const std::string& metrics_text);

// The value of the sample `series` (its name and labels exactly as rendered, e.g.
// `cairn_commands_total{actor="counter",result="ok"}`) in a scrape; -1 when absent.
double sample_value(const std::string& metrics_text, const std::string& series);
// The sum of the samples of a metric whose labels contain every `label="value"` in `filter`.
double sum_samples(const std::string& metrics_text, const std::string& name, const std::string& filter = "");

}  // namespace cairn::testing
