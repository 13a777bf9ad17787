// Cairn's version (CMakeLists.txt reads it from here) and the ABI stamp every module carries.
#pragma once

#include <nlohmann/json.hpp>

#define CAIRN_VERSION "0.1.0"

#define CAIRN_STRINGIFY_(x) #x
#define CAIRN_STRINGIFY(x) CAIRN_STRINGIFY_(x)
// What a module's code bakes in from Cairn's headers: Cairn's own version, the C++ ABI and
// string layout of libstdc++, and nlohmann::json's layout (messages carry Json by value).
#define CAIRN_MODULE_ABI                                                                                    \
  "cairn " CAIRN_VERSION "; gxx-abi " CAIRN_STRINGIFY(__GXX_ABI_VERSION) "; cxx11-abi " CAIRN_STRINGIFY( \
      _GLIBCXX_USE_CXX11_ABI) "; nlohmann_json " CAIRN_STRINGIFY(NLOHMANN_JSON_VERSION_MAJOR) "." CAIRN_STRINGIFY(NLOHMANN_JSON_VERSION_MINOR)
