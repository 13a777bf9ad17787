// Cairn run as the roles `cairn grants` makes: an owner migrates, a writer handles commands, a
// worker runs the consumer groups without any DDL right, and a reader reads but cannot write.
#include <doctest/doctest.h>

#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "tests/support/child_process.hpp"
#include "tests/support/eventually.hpp"
#include "tests/support/process.hpp"
#include "tests/support/test_database.hpp"

using namespace cairn::testing;

namespace {

// Login roles of their own (roles are cluster-wide), dropped after the database that used them.
struct Roles {
  std::string admin_url, prefix;
  std::vector<std::string> names;
  Roles(std::string url, std::string name_prefix) : admin_url(std::move(url)), prefix(std::move(name_prefix)) {}
  std::string make(const std::string& kind) {
    names.push_back(prefix + "_" + kind);
    execute_sql(admin_url, "CREATE ROLE " + names.back() + " LOGIN");
    return names.back();
  }
  ~Roles() {
    for (const auto& role : names) {
      try {
        execute_sql(admin_url, "DROP ROLE IF EXISTS " + role);
      } catch (...) {
        // The throwaway server goes away after the run anyway.
      }
    }
  }
};

// The URL with its user replaced (the test server trusts local connections).
std::string as_role(const std::string& url, const std::string& role) {
  auto start = url.find("://") + 3;
  auto at = url.find('@', start);
  return url.substr(0, start) + role + url.substr(at);
}

}  // namespace

TEST_CASE("an owner, a writer, a worker and a reader each do their job with the grants cairn grants gives") {
  std::string admin = std::getenv("CAIRN_TEST_DATABASE_URL");
  Roles roles(admin, "cairn_lp_" + std::to_string(getpid()));
  TestDatabase db(false);
  auto owner = roles.make("owner"), writer = roles.make("writer"), worker = roles.make("worker"),
       reader = roles.make("reader");
  // The owner owns the database, so it owns the public schema too (pg_database_owner, PostgreSQL 15).
  execute_sql(db.url(), "ALTER DATABASE " + db.name() + " OWNER TO " + owner);
  auto cairn = [&](const std::string& role, std::vector<std::string> args) {
    args.insert(args.begin(), {"--db", as_role(db.url(), role)});
    return run_process(CAIRN_CLI_PATH, args);
  };

  auto migrated = cairn(owner, {"migrate", "--app", CAIRN_COUNTER_MODULE});
  REQUIRE_MESSAGE(migrated.exit_code == 0, migrated.err);
  CHECK(migrated.out.find("created table public.counter_totals") != std::string::npos);
  for (auto [role, access] : {std::pair{writer, "writer"}, {worker, "worker"}, {reader, "reader"}}) {
    auto granted = cairn(owner, {"grants", role, "--as", access, "--app", CAIRN_COUNTER_MODULE});
    REQUIRE_MESSAGE(granted.exit_code == 0, granted.err);
  }
  // A role without DDL rights can still check that the schema is current.
  CHECK(cairn(worker, {"migrate", "--app", CAIRN_COUNTER_MODULE}).out == "schema is up to date\n");

  // The writer decides a command now and dispatches another for a worker.
  auto handled = cairn(writer, {"handle", "--app", CAIRN_COUNTER_MODULE, "counter-lp", "counter.increment", R"({"by":2})"});
  CHECK_MESSAGE(handled.exit_code == 0, handled.err);
  auto dispatched =
      cairn(writer, {"dispatch", "--app", CAIRN_COUNTER_MODULE, "counter-lp", "counter.increment", R"({"by":3})"});
  CHECK_MESSAGE(dispatched.exit_code == 0, dispatched.err);

  // The worker delivers the dispatched command and projects both events, with DML only.
  std::string log = "/tmp/cairn-least-privilege-" + std::to_string(getpid()) + ".log";
  {
    ChildProcess process(CAIRN_WORKER_PATH,
                         {"--app", CAIRN_COUNTER_MODULE, "--db", as_role(db.url(), worker), "--poll-ms", "20"}, log);
    bool projected = eventually(
        [&] {
          return query_number(db.url(), "SELECT coalesce(sum(total), 0) FROM public.counter_totals WHERE stream_id = "
                                        "'counter-lp'") == 5;
        },
        std::chrono::seconds(20));
    CHECK_MESSAGE(projected, read_file(log));
    process.signal(SIGTERM);
    CHECK(process.wait(std::chrono::seconds(30)) == 0);
  }
  auto worker_log = read_file(log);
  CHECK_MESSAGE(worker_log.find("permission denied") == std::string::npos, worker_log);
  std::filesystem::remove(log);
  // Stopping a group is an operator's (or a worker role's) business, not a writer's.
  CHECK(cairn(writer, {"stop", "counter.totals"}).err.find("permission denied") != std::string::npos);

  // The reader reads the log, the groups, a state and the read model, and can write nothing.
  auto head = query_number(db.url(), "SELECT count(*) FROM cairn.messages");
  CHECK(cairn(reader, {"read", "counter-lp"}).exit_code == 0);
  CHECK(cairn(reader, {"status"}).exit_code == 0);
  CHECK(cairn(reader, {"state", "--app", CAIRN_COUNTER_MODULE, "counter-lp"}).out.find("\"total\":5") != std::string::npos);
  CHECK(query_number(as_role(db.url(), reader), "SELECT count(*) FROM public.counter_totals") == 1);
  auto appended = cairn(reader, {"append", "counter-lp", "counter.incremented", R"({"by":1})"});
  CHECK(appended.exit_code == 1);
  CHECK(appended.err.find("permission denied") != std::string::npos);
  auto refused = cairn(reader, {"handle", "--app", CAIRN_COUNTER_MODULE, "counter-lp", "counter.increment", R"({"by":1})"});
  CHECK(refused.exit_code != 0);
  CHECK(cairn(reader, {"stop", "counter.totals"}).err.find("permission denied") != std::string::npos);
  CHECK_THROWS(execute_sql(as_role(db.url(), reader), "DELETE FROM public.counter_totals"));
  CHECK(query_number(db.url(), "SELECT count(*) FROM cairn.messages") == head);
}
