// A module that load_module must refuse before calling into it: stamped by another Cairn, or not
// stamped at all (CAIRN_TEST_UNSTAMPED).
#include <cstdlib>

#include <cairn/application.hpp>

#ifndef CAIRN_TEST_UNSTAMPED
extern "C" const char* cairn_module_abi() { return "cairn 0.0.1; gxx-abi 1002; cxx11-abi 0; nlohmann_json 2.1"; }
#endif
extern "C" void cairn_register_module(cairn::Application&) { std::abort(); }
