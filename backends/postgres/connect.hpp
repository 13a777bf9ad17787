// Opening a PostgreSQL session: a connect timeout by default, and errors that never repeat a secret.
#pragma once

#include <memory>
#include <string>

#include <pqxx/pqxx>

namespace cairn::postgres {

// How long a connection attempt may take unless the URL or PGCONNECT_TIMEOUT says otherwise:
// a dead host fails in seconds instead of after the kernel's TCP retries (minutes).
inline constexpr int default_connect_timeout_seconds = 10;

// `url` with `parameters` ("k1=v1 k2=v2") added in the URL's own syntax (URI or key=value).
std::string with_parameters(const std::string& url, const std::string& parameters);

// A new session on `url`. A failure throws pqxx::broken_connection with the URL's password
// scrubbed from libpq's message (its URI parser repeats the token it cannot decode).
std::unique_ptr<pqxx::connection> connect(const std::string& url);

// `text` with the password of `url` (raw and percent-decoded) replaced by "***".
std::string scrub_secrets(std::string text, const std::string& url);

}  // namespace cairn::postgres
