// The counter actor and its consumers as an application module, for CLI and multi-process tests.
#include "tests/support/counter_consumers.hpp"

CAIRN_MODULE(app) {
  counter::install(app);
  counter::install_consumers(app);
}
