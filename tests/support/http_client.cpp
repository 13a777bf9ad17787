#include "tests/support/http_client.hpp"

#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include <httplib.h>

#include "tests/support/process.hpp"

namespace cairn::testing {

namespace {

template <class Send>
HttpReply request(const std::string& address, std::chrono::seconds timeout, Send send) {
  auto colon = address.rfind(':');
  auto host = address.substr(0, colon);
  if (host.size() > 1 && host.front() == '[') host = host.substr(1, host.size() - 2);
  httplib::Client client(host, std::stoi(address.substr(colon + 1)));
  client.set_connection_timeout(timeout);
  client.set_read_timeout(timeout);
  HttpReply reply;
  auto result = send(client);
  if (!result) {
    reply.error = httplib::to_string(result.error());
    return reply;
  }
  reply.status = result->status;
  reply.body = result->body;
  reply.content_type = result->get_header_value("Content-Type");
  reply.headers.insert(result->headers.begin(), result->headers.end());
  return reply;
}

}  // namespace

std::string HttpReply::header(const std::string& name) const {
  auto it = headers.find(name);
  return it == headers.end() ? "" : it->second;
}

HttpReply http_get(const std::string& address, const std::string& path, std::chrono::seconds timeout) {
  return request(address, timeout, [&](httplib::Client& client) { return client.Get(path.c_str()); });
}

HttpReply http_post(const std::string& address, const std::string& path, const std::string& body,
                    const std::string& authorization, std::chrono::seconds timeout) {
  return request(address, timeout, [&](httplib::Client& client) {
    httplib::Headers headers;
    if (!authorization.empty()) headers.emplace("Authorization", authorization);
    return client.Post(path.c_str(), headers, body, "application/json");
  });
}

std::string served_address(const std::string& log) {
  auto at = log.find("http://");
  if (at == std::string::npos) return "";
  at += 7;
  auto end = log.find_first_of(" \"\n\t", at);
  return log.substr(at, end == std::string::npos ? std::string::npos : end - at);
}

std::string promtool_problems(const std::string& metrics_text) {
  if (std::system("command -v promtool >/dev/null 2>&1") != 0)
    throw std::runtime_error("promtool is not on PATH: run tools/setup (Debian's prometheus package)");
  std::string path = "/tmp/cairn-scrape-" + std::to_string(getpid()) + ".txt";
  std::ofstream(path) << metrics_text;
  auto result = run_process("sh", {"-c", "promtool check metrics < " + shell_quote(path)});
  std::remove(path.c_str());
  if (result.exit_code == 0) return "";
  return "promtool exit " + std::to_string(result.exit_code) + ": " + result.out + result.err;
}

double sample_value(const std::string& metrics_text, const std::string& series) {
  std::istringstream lines(metrics_text);
  for (std::string line; std::getline(lines, line);)
    if (line.size() > series.size() && line.compare(0, series.size(), series) == 0 && line[series.size()] == ' ')
      return std::stod(line.substr(series.size() + 1));
  return -1;
}

double sum_samples(const std::string& metrics_text, const std::string& name, const std::string& filter) {
  std::istringstream lines(metrics_text);
  double sum = 0;
  for (std::string line; std::getline(lines, line);) {
    if (line.compare(0, name.size(), name) != 0 || line.size() <= name.size()) continue;
    char next = line[name.size()];
    if (next != '{' && next != ' ') continue;
    auto space = line.rfind(' ');
    if (!filter.empty() && line.substr(0, space).find(filter) == std::string::npos) continue;
    sum += std::stod(line.substr(space + 1));
  }
  return sum;
}

}  // namespace cairn::testing
