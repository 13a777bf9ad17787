// The food delivery example as an application module (for cairn-worker and the CLI's --app).
#include "projections.hpp"

CAIRN_MODULE(app) { food::install(app); }
