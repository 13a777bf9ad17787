// `cairn-worker`: the supervisor binary that runs application modules' consumer groups.
#include <iostream>

#include <CLI/CLI.hpp>

int main(int argc, char** argv) {
  CLI::App app{"cairn-worker: run the consumer groups (reactors, projectors) of Cairn application modules"};
  std::vector<std::string> modules;
  std::string database_url;
  app.add_option("--app", modules, "Application module (shared library) to load; repeatable");
  app.add_option("--db", database_url, "PostgreSQL URL (default: $CAIRN_DATABASE_URL)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  std::cerr << "cairn-worker: consumer groups are not implemented yet; see --help\n";
  return 1;
}
