// The PostgreSQL test binary's entry point (needs CAIRN_TEST_DATABASE_URL; tools/test sets it).
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>
