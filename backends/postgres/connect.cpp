#include "backends/postgres/connect.hpp"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <regex>
#include <vector>

namespace cairn::postgres {
namespace {

bool is_uri(const std::string& url) { return url.rfind("postgres://", 0) == 0 || url.rfind("postgresql://", 0) == 0; }

std::string percent_decoded(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && std::isxdigit(static_cast<unsigned char>(s[i + 1])) &&
        std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
      out += static_cast<char>(std::stoi(s.substr(i + 1, 2), nullptr, 16));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

// The password as written in the URL, wherever libpq accepts one.
std::vector<std::string> passwords_in(const std::string& url) {
  std::vector<std::string> found;
  if (is_uri(url)) {
    auto start = url.find("://") + 3;
    auto end = url.find_first_of("/?", start);
    auto authority = url.substr(start, end == std::string::npos ? std::string::npos : end - start);
    auto at = authority.rfind('@');
    if (at != std::string::npos) {
      auto colon = authority.find(':');
      if (colon < at) found.push_back(authority.substr(colon + 1, at - colon - 1));
    }
    if (auto query = url.find('?'); query != std::string::npos) {
      static const std::regex parameter(R"((?:^|&)password=([^&]*))");
      auto params = url.substr(query + 1);
      for (std::sregex_iterator it(params.begin(), params.end(), parameter), stop; it != stop; ++it)
        found.push_back((*it)[1]);
    }
  } else {
    static const std::regex keyword(R"((?:^|\s)password\s*=\s*('(?:[^'\\]|\\.)*'|\S+))");
    for (std::sregex_iterator it(url.begin(), url.end(), keyword), stop; it != stop; ++it) {
      std::string value = (*it)[1];
      if (value.size() >= 2 && value.front() == '\'') value = value.substr(1, value.size() - 2);
      found.push_back(value);
    }
  }
  std::vector<std::string> secrets;
  for (const auto& raw : found) {
    if (raw.empty()) continue;
    secrets.push_back(raw);
    if (auto decoded = percent_decoded(raw); decoded != raw) secrets.push_back(decoded);
  }
  return secrets;
}

void replace_all(std::string& text, const std::string& what, const std::string& with) {
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + with.size()))
    text.replace(at, what.size(), with);
}

}  // namespace

std::string with_parameters(const std::string& url, const std::string& parameters) {
  if (!is_uri(url)) return url + " " + parameters;
  std::string query = parameters;
  std::replace(query.begin(), query.end(), ' ', '&');
  return url + (url.find('?') == std::string::npos ? "?" : "&") + query;
}

std::unique_ptr<pqxx::connection> connect(const std::string& url) {
  std::string target = url;
  if (url.find("connect_timeout") == std::string::npos && !std::getenv("PGCONNECT_TIMEOUT"))
    target = with_parameters(url, "connect_timeout=" + std::to_string(default_connect_timeout_seconds));
  try {
    return std::make_unique<pqxx::connection>(target);
  } catch (const pqxx::broken_connection& e) {
    throw pqxx::broken_connection(scrub_secrets(e.what(), url));
  }
}

std::string scrub_secrets(std::string text, const std::string& url) {
  for (const auto& secret : passwords_in(url)) {
    // Replaced everywhere, a short one would garble the message; libpq quotes what it repeats.
    if (secret.size() >= 4)
      replace_all(text, secret, "***");
    else
      replace_all(text, "\"" + secret + "\"", "\"***\"");
  }
  return text;
}

}  // namespace cairn::postgres
