// `cairn`: the admin CLI. Exit codes: 0 ok, 1 failure, 2 bad input or usage, 3 conflict, 4 rejected.
#include <cstdlib>
#include <iostream>

#include "backends/postgres/cluster_xids.hpp"
#include "backends/postgres/migrations.hpp"
#include "runtime/errors.hpp"
#include "tools/cli/cli.hpp"

namespace cairn::cli {

const std::string& Context::require_database() const {
  if (database_url.empty()) throw BadInput("no database: pass --db URL or set CAIRN_DATABASE_URL");
  return database_url;
}

std::unique_ptr<Store> Context::open_store() const { return cairn::open_store(require_database()); }

void add_migrate_command(CLI::App& app, Context& context) {
  auto* cmd = app.add_subcommand("migrate", "Apply the missing schema migrations (safe to run twice or concurrently)");
  cmd->callback([&context] {
    auto applied = postgres::migrate(context.require_database());
    if (applied.empty()) std::cout << "schema is up to date\n";
    for (const auto& name : applied) std::cout << "applied " << name << "\n";
  });
}

void add_repair_xids_command(CLI::App& app, Context& context) {
  auto* cmd = app.add_subcommand(
      "repair-xids",
      "After restoring a dump into another PostgreSQL cluster: renumber the log's transaction ids "
      "(stop every worker first; docs/SCHEMA.md)");
  cmd->callback([&context] {
    auto repaired = postgres::repair_xids(context.require_database());
    if (!repaired) {
      std::cout << "the log's transaction ids belong to this cluster: nothing to repair\n";
      return;
    }
    std::cout << "renumbered " << repaired->messages << " messages and moved " << repaired->cursors
              << " group cursors; run VACUUM ANALYZE cairn.messages before starting the workers\n";
  });
}

}  // namespace cairn::cli

int main(int argc, char** argv) {
  CLI::App app{"cairn: administer a Cairn event store (PostgreSQL)"};
  app.require_subcommand(1);
  app.fallthrough();
  cairn::tools::one_line_failures(app, "cairn");
  cairn::cli::Context context;
  if (const char* url = std::getenv("CAIRN_DATABASE_URL")) context.database_url = url;
  app.add_option("--db", context.database_url, "PostgreSQL URL (default: $CAIRN_DATABASE_URL)");
  cairn::cli::add_migrate_command(app, context);
  cairn::cli::add_repair_xids_command(app, context);
  cairn::cli::add_store_commands(app, context);
  cairn::cli::add_app_commands(app, context);
  cairn::cli::add_group_commands(app, context);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return 2;
  } catch (const cairn::cli::CommandFailed& e) {
    std::cerr << "cairn: " << e.what() << "\n";
    return cairn::exit_code(e.status);
  } catch (const cairn::Error& e) {
    std::cerr << "cairn: " << e.what() << "\n";
    return cairn::exit_code(e.kind());
  } catch (const std::exception& e) {
    std::cerr << "cairn: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
