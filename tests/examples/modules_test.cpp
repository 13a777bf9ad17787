// Every example's module loads in a real cairn-worker, takes its groups' slices and stops cleanly on SIGTERM.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <csignal>
#include <fstream>
#include <sstream>

#include "tests/support/child_process.hpp"
#include "tests/support/eventually.hpp"
#include "tests/support/process.hpp"
#include "tests/support/test_database.hpp"

using namespace cairn::testing;

namespace {

std::vector<std::string> example_modules() {
  std::vector<std::string> modules;
  std::stringstream list(CAIRN_EXAMPLE_MODULES);  // ';'-separated, from CMake
  for (std::string path; std::getline(list, path, ';');) modules.push_back(path);
  return modules;
}

}  // namespace

TEST_CASE("each example module runs in cairn-worker") {
  TestDatabase db;
  auto modules = example_modules();
  REQUIRE(modules.size() >= 5);
  for (const auto& module : modules) {
    CAPTURE(module);
    std::string log = "/tmp/cairn-example-worker-" + std::to_string(getpid()) + ".log";
    migrate_module(db.url(), module);
    {
      ChildProcess worker(CAIRN_WORKER_PATH, {"--app", module, "--db", db.url()}, log);
      CHECK(eventually([&] { return read_file(log).find("took slice") != std::string::npos; }));
      worker.signal(SIGTERM);
      CHECK(worker.wait(std::chrono::seconds(20)) == 0);
    }
    auto output = read_file(log);
    CHECK_MESSAGE(output.find("released slice") != std::string::npos, output);
    std::remove(log.c_str());
  }
}
