// A PostgreSQL database of the test's own, on a server where it may create one; dropped at the end.
#pragma once

#include <unistd.h>

#include <random>
#include <stdexcept>
#include <string>

#include <pqxx/pqxx>

class ScratchDatabase {
 public:
  // `server_url`: postgresql://USER@HOST:PORT/DB?PARAMS; the new database is on the same server.
  explicit ScratchDatabase(std::string server_url) : server_url_(std::move(server_url)) {
    // Unique per process and run, so that tests running in parallel on one server do not collide.
    name_ = "inventory_test_" + std::to_string(getpid()) + "_" + std::to_string(std::random_device()() % 1000000);
    auto authority = server_url_.find("://");
    if (authority == std::string::npos) throw std::invalid_argument("not a postgresql:// URL: " + server_url_);
    auto path = server_url_.find_first_of("/?", authority + 3);
    auto params = server_url_.find('?', authority + 3);
    url_ = server_url_.substr(0, path) + "/" + name_ + (params == std::string::npos ? "" : server_url_.substr(params));
    run("CREATE DATABASE " + name_);
  }
  ~ScratchDatabase() {
    try {
      run("DROP DATABASE IF EXISTS " + name_ + " WITH (FORCE)");
    } catch (const std::exception&) {
      // A destructor must not throw; a database left behind holds only test data.
    }
  }
  ScratchDatabase(const ScratchDatabase&) = delete;
  ScratchDatabase& operator=(const ScratchDatabase&) = delete;

  const std::string& url() const { return url_; }

 private:
  void run(const std::string& statement) const {
    pqxx::connection server(server_url_);
    pqxx::nontransaction tx(server);  // CREATE and DROP DATABASE cannot run inside a transaction
    tx.exec0(statement);
  }

  std::string server_url_, name_, url_;
};
