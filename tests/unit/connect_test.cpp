// Opening sessions: no password ever reaches a message, and a dead host fails within the timeout.
#include <doctest/doctest.h>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "backends/postgres/connect.hpp"
#include "tests/support/process.hpp"

using cairn::postgres::scrub_secrets;
using cairn::postgres::with_parameters;
using cairn::testing::run_process;

TEST_CASE("the password of a URL is scrubbed, raw and decoded, in either syntax") {
  CHECK(scrub_secrets("invalid percent-encoded token: \"pa%ss\"", "postgresql://u:pa%ss@h/db") ==
        "invalid percent-encoded token: \"***\"");
  CHECK(scrub_secrets("got s3cr3t!x and s3cr3t%21x", "postgres://u:s3cr3t%21x@h:5432/db?sslmode=disable") ==
        "got *** and ***");
  CHECK(scrub_secrets("echo hunter22", "postgresql://u@h/db?sslmode=disable&password=hunter22") == "echo ***");
  CHECK(scrub_secrets("echo two words", "host=h password='two words' dbname=d") == "echo ***");
  CHECK(scrub_secrets("echo hunter22", "host=h password = hunter22") == "echo ***");
  // Short ones only where libpq quotes them: replaced everywhere they would garble the message.
  CHECK(scrub_secrets("user \"u\" token \"ab\"", "postgresql://u:ab@h/db") == "user \"u\" token \"***\"");
  CHECK(scrub_secrets("sslpassword stays", "host=h sslpassword=stays") == "sslpassword stays");
  CHECK(scrub_secrets("nothing secret", "postgresql://u@h/db") == "nothing secret");
}

TEST_CASE("parameters are added in the URL's own syntax") {
  CHECK(with_parameters("postgresql://u@h/db", "a=1 b=2") == "postgresql://u@h/db?a=1&b=2");
  CHECK(with_parameters("postgresql://u@h/db?sslmode=disable", "a=1") == "postgresql://u@h/db?sslmode=disable&a=1");
  CHECK(with_parameters("host=h dbname=d", "a=1") == "host=h dbname=d a=1");
}

TEST_CASE("the CLI never prints a password libpq could not decode") {
  auto result = run_process(CAIRN_CLI_PATH, {"streams", "--db", "postgresql://someone:pa%ss@127.0.0.1:1/db"});
  CHECK(result.exit_code == 1);
  CHECK(result.err.find("pa%ss") == std::string::npos);
  CHECK(result.err.find("***") != std::string::npos);
}

TEST_CASE("a server that never answers fails the CLI with exit 1 once the default connect timeout passes") {
  // The kernel completes the TCP handshake into the backlog; nothing ever reads the startup packet.
  int listener = socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(listener >= 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
  REQUIRE(listen(listener, 8) == 0);
  socklen_t length = sizeof address;
  REQUIRE(getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length) == 0);
  auto url = "postgresql://someone@127.0.0.1:" + std::to_string(ntohs(address.sin_port)) + "/db";
  unsetenv("PGCONNECT_TIMEOUT");
  auto result = run_process(CAIRN_CLI_PATH, {"streams", "--db", url});
  close(listener);
  CHECK(result.exit_code == 1);
  CHECK(result.err.find("timeout") != std::string::npos);
}
