// `cairn migrate | grants | repair-xids`: the schema owner's commands.
#include <iostream>

#include "backends/postgres/cluster_xids.hpp"
#include "backends/postgres/grants.hpp"
#include "backends/postgres/migrations.hpp"
#include <cairn/application.hpp>
#include "tools/cli/cli.hpp"

namespace cairn::cli {
namespace {

// The modules' definitions, without a runtime: the schema may not exist yet.
Application loaded(const std::vector<std::string>& modules) {
  Application app;
  for (const auto& module : modules) load_module(app, module);
  return app;
}

}  // namespace

void add_schema_commands(CLI::App& app, Context& context) {
  {
    auto modules = std::make_shared<std::vector<std::string>>();
    auto* cmd = app.add_subcommand(
        "migrate",
        "As the schema owner: apply the missing schema migrations and, with --app, create the modules' "
        "read-model tables (safe to run twice or concurrently)");
    cmd->add_option("--app", *modules, "Application module whose read-model tables to create; repeatable")
        ->allow_extra_args(false);
    cmd->callback([&context, modules] {
      auto tables = loaded(*modules).read_model_tables();  // a module that fails to load changes nothing
      bool changed = false;
      for (const auto& name : postgres::migrate(context.require_database())) {
        std::cout << "applied " << name << "\n";
        changed = true;
      }
      for (const auto& name : postgres::create_tables(context.require_database(), tables)) {
        std::cout << "created table " << name << "\n";
        changed = true;
      }
      if (!changed) std::cout << "schema is up to date\n";
    });
  }
  {
    struct Args {
      std::string role, access;
      std::vector<std::string> modules;
      bool dry_run = false;
    };
    auto args = std::make_shared<Args>();
    auto* cmd = app.add_subcommand(
        "grants",
        "As the schema owner: grant ROLE what it needs and no more. reader: read the log and the read models; "
        "writer: also append, handle and dispatch; worker: also run cairn-worker (group progress and, with "
        "--app, the modules' read-model tables). Run it again after each `cairn migrate`");
    cmd->add_option("role", args->role, "An existing PostgreSQL role")->required();
    cmd->add_option("--as", args->access, "reader, writer or worker")->required();
    cmd->add_option("--app", args->modules, "Application module whose read-model tables to include; repeatable")
        ->allow_extra_args(false);
    cmd->add_flag("--dry-run", args->dry_run, "Print the statements without running them");
    cmd->callback([&context, args] {
      auto access = postgres::parse_access(args->access);
      auto tables = loaded(args->modules).read_model_tables();
      auto statements = args->dry_run ? postgres::grant_statements(args->role, access, tables)
                                      : postgres::grant(context.require_database(), args->role, access, tables);
      for (const auto& statement : statements) std::cout << statement << ";\n";
    });
  }
  {
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
}

}  // namespace cairn::cli
