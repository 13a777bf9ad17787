// inventory-service [--http ADDR:PORT]: serves until SIGINT or SIGTERM. The store is the
// PostgreSQL database of CAIRN_DATABASE_URL, or in memory when it is unset.
#include <pthread.h>

#include <charconv>
#include <csignal>
#include <cstring>
#include <exception>
#include <iostream>
#include <optional>
#include <string>
#include <string_view>

#include "service.hpp"

namespace {

struct Address {
  std::string host = "127.0.0.1";
  int port = 8080;
};

// HOST:PORT, split at the last colon; port 0 asks for any free port.
std::optional<Address> parse_address(std::string_view text) {
  auto colon = text.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return std::nullopt;
  Address address{std::string(text.substr(0, colon)), 0};
  auto digits = text.substr(colon + 1);
  auto [stop, error] = std::from_chars(digits.data(), digits.data() + digits.size(), address.port);
  if (digits.empty() || error != std::errc() || stop != digits.data() + digits.size() || address.port < 0 ||
      address.port > 65535)
    return std::nullopt;
  return address;
}

}  // namespace

int main(int argc, char** argv) {
  Address address;
  for (int i = 1; i < argc; ++i) {
    std::optional<Address> parsed;
    if (std::string_view(argv[i]) == "--http" && i + 1 < argc) parsed = parse_address(argv[++i]);
    if (!parsed) {
      std::cerr << "usage: inventory-service [--http HOST:PORT]   (default 127.0.0.1:8080; "
                   "CAIRN_DATABASE_URL: the database, unset: in memory)\n";
      return 2;
    }
    address = *parsed;
  }

  // Blocked before any thread starts, so that every thread inherits the mask and the signals wait
  // for sigwait below instead of interrupting a Cairn or httplib thread.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  try {
    auto config = cairn::Config::from_env();
    config.migrate = true;  // the service owns its database: it creates Cairn's schema and its read models
    inventory::Service service(config);
    int port = service.start(address.host, address.port);
    std::cout << "inventory-service listening on http://" << address.host << ":" << port << std::endl;
    int signal = 0;
    sigwait(&signals, &signal);
    std::cout << "inventory-service stopping (" << strsignal(signal) << ")" << std::endl;
  } catch (const std::exception& e) {  // the database cannot be reached, the address is taken, ...
    std::cerr << "inventory-service: " << e.what() << "\n";
    return 1;
  }
}
