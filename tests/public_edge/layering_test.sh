#!/usr/bin/env bash
# The folders depend one way: the public headers (runtime/include/cairn) on nothing of the tree,
# backends/ on the public headers, actors/ on both, and only runtime/runtime.cpp (the composition
# root) on actors/; cpp-httplib only in runtime/http/server.cpp. Prints every include that breaks this and fails.
set -uo pipefail
cd "$1"
broken=$(
  grep -rn '#include "' runtime/include
  grep -rn '#include "' backends | grep -v '#include "backends/'
  grep -rn '#include "' actors | grep -v '#include "\(actors\|backends\)/'
  grep -rn '#include "actors/' runtime --include=*.cpp --include=*.hpp | grep -v '^runtime/runtime.cpp:'
  # cpp-httplib is libcairn's private business: one source file of the endpoint includes it (and a test helper).
  grep -rn '#include <httplib.h>' runtime actors backends tools | grep -v '^runtime/http/server.cpp:'
)
if [[ -n $broken ]]; then
  echo "includes against the layering (see README, Layout):"
  echo "$broken"
  exit 1
fi
echo "layering holds"
