// `cairn`: the admin CLI. Exit codes: 0 ok, 1 failure, 2 bad input or usage, 3 conflict, 4 rejected.
#include <cstdlib>
#include <iostream>

#include "backends/postgres/connect.hpp"
#include <cairn/errors.hpp>
#include <cairn/version.hpp>
#include "tools/cli/cli.hpp"

namespace cairn::cli {

const std::string& Context::require_database() const {
  if (database_url.empty()) throw BadInput("no database: pass --db URL or set CAIRN_DATABASE_URL");
  return database_url;
}

std::unique_ptr<Store> Context::open_store() const { return cairn::open_store(require_database()); }

}  // namespace cairn::cli

int main(int argc, char** argv) {
  CLI::App app{"cairn: administer a Cairn event store (PostgreSQL)"};
  app.require_subcommand(1);
  app.fallthrough();
  app.set_version_flag("--version", "cairn " CAIRN_VERSION);
  cairn::tools::one_line_failures(app, "cairn");
  cairn::cli::Context context;
  if (const char* url = std::getenv("CAIRN_DATABASE_URL")) context.database_url = url;
  app.add_option("--db", context.database_url, "PostgreSQL URL (default: $CAIRN_DATABASE_URL)");
  cairn::cli::add_schema_commands(app, context);
  cairn::cli::add_store_commands(app, context);
  cairn::cli::add_app_commands(app, context);
  cairn::cli::add_group_commands(app, context);
  cairn::cli::add_console_command(app, context);
  // Sessions already scrub what libpq says; this catches a password in any other message.
  auto report = [&](const std::exception& e) {
    std::cerr << "cairn: " << cairn::postgres::scrub_secrets(e.what(), context.database_url) << "\n";
  };
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return 2;
  } catch (const cairn::cli::CommandFailed& e) {
    report(e);
    return cairn::exit_code(e.status);
  } catch (const cairn::Error& e) {
    report(e);
    return cairn::exit_code(e.kind());
  } catch (const std::exception& e) {
    report(e);
    return 1;
  }
  return 0;
}
