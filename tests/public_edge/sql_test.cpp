// The SQL projector's header and the test kit compile on the public include directory alone too.
#include <cairn/sql_projector.hpp>
#include <cairn/testing.hpp>
#include <cairn/testing_sql.hpp>

#include <doctest/doctest.h>

TEST_CASE("an SQL projector is declared from the public headers alone") {
  auto projector = cairn::sql_projector("edge.rows");
  projector->table("public.edge_rows", "CREATE TABLE IF NOT EXISTS public.edge_rows (id text)");
  REQUIRE(projector->read_model_tables().size() == 1);
  CHECK_THROWS_AS(projector->table("edge_rows", ""), cairn::BadInput);
}
