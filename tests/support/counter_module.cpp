// The counter actor as an application module, for CLI and multi-process tests.
#include "tests/support/counter_actor.hpp"

CAIRN_MODULE(app) { counter::install(app); }
