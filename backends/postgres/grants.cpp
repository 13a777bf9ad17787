#include "backends/postgres/grants.hpp"

#include <pqxx/pqxx>

#include "backends/postgres/connect.hpp"
#include <cairn/errors.hpp>

namespace cairn::postgres {
namespace {

// A role or table name as one SQL identifier per dotted part, each quoted.
std::string quoted_name(const std::string& name) {
  std::string out;
  size_t start = 0;
  for (;;) {
    auto dot = name.find('.', start);
    auto part = name.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (part.empty() || part.find('\0') != std::string::npos) throw BadInput("invalid SQL name '" + name + "'");
    std::string escaped = "\"";
    for (char c : part) escaped += c == '"' ? std::string("\"\"") : std::string(1, c);
    out += escaped + "\"";
    if (dot == std::string::npos) return out;
    out += ".";
    start = dot + 1;
  }
}

}  // namespace

Access parse_access(const std::string& text) {
  if (text == "reader") return Access::reader;
  if (text == "writer") return Access::writer;
  if (text == "worker") return Access::worker;
  throw BadInput("--as must be reader, writer or worker, not '" + text + "'");
}

std::vector<std::string> grant_statements(const std::string& role, Access access,
                                          const std::vector<ReadModelTable>& tables) {
  if (role.find('.') != std::string::npos) throw BadInput("role '" + role + "' must not contain a dot");
  auto to = " TO " + quoted_name(role);
  std::vector<std::string> sql = {"GRANT USAGE ON SCHEMA cairn" + to,
                                  "GRANT SELECT ON ALL TABLES IN SCHEMA cairn" + to};
  if (access != Access::reader) {
    // An append writes the messages and the stream heads in one statement that can also record
    // consumer marks (cairn.write_messages), so PostgreSQL checks group_streams for every append.
    sql.push_back("GRANT INSERT ON cairn.messages, cairn.scheduled_messages" + to);
    sql.push_back("GRANT INSERT, UPDATE ON cairn.streams, cairn.snapshots, cairn.group_streams" + to);
    sql.push_back("GRANT USAGE ON ALL SEQUENCES IN SCHEMA cairn" + to);
  }
  if (access == Access::worker) {
    sql.push_back(
        "GRANT INSERT, UPDATE, DELETE ON cairn.consumer_groups, cairn.group_slices, cairn.group_streams, "
        "cairn.projections, cairn.scheduled_messages" + to);
    sql.push_back("GRANT UPDATE ON ALL SEQUENCES IN SCHEMA cairn" + to);  // nextval of the lease epochs
  }
  for (const auto& table : tables) {
    auto name = quoted_name(table.name);
    sql.push_back("GRANT USAGE ON SCHEMA " + name.substr(0, name.rfind(".\"")) + to);
    sql.push_back(std::string("GRANT ") + (access == Access::worker ? "SELECT, INSERT, UPDATE, DELETE" : "SELECT") +
                  " ON " + name + to);
  }
  return sql;
}

std::vector<std::string> grant(const std::string& database_url, const std::string& role, Access access,
                               const std::vector<ReadModelTable>& tables) {
  auto sql = grant_statements(role, access, tables);
  try {
    auto connection = connect(database_url);
    pqxx::work tx(*connection);
    for (const auto& statement : sql) tx.exec0(statement);
    tx.commit();
  } catch (const pqxx::failure& e) {
    throw StoreError(std::string("granting failed: ") + e.what());
  }
  return sql;
}

}  // namespace cairn::postgres
