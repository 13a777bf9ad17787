#!/usr/bin/env bash
# Cairn as a user gets it: installs the build into a temporary prefix, builds examples/service (its
# own CMake project) against it with find_package(Cairn) and runs that project's tests, compiles a
# program through cairn.pc, then packs a .deb, extracts it with dpkg -x and runs `cairn --version`.
# Usage: package_test.sh SOURCE_DIR BUILD_DIR VERSION [CONSUMER_FLAGS]
# CONSUMER_FLAGS: what a program linking this build needs besides cairn.pc's flags; a sanitizer
# build's library needs its programs built with the same sanitizers (their runtime must come first).
set -euo pipefail
src=$1 build=$2 version=$3 consumer_flags=${4:-}
: "${CAIRN_TEST_DATABASE_URL:?the HTTP test of examples/service needs a PostgreSQL server (tools/test starts one)}"
work=$(mktemp -d /tmp/cairn-package.XXXXXX)
trap 'rm -rf "$work"' EXIT
prefix=$work/prefix

echo "== install into $prefix"
cmake --install "$build" --prefix "$prefix" >/dev/null
for f in bin/cairn bin/cairn-worker include/cairn/cairn.hpp lib/cmake/Cairn/CairnConfig.cmake lib/pkgconfig/cairn.pc; do
  [[ -e $prefix/$f ]] || { echo "not installed: $f" >&2; exit 1; }
done
# The library carries its SONAME, and the internals stay home.
soname=$(objdump -p "$prefix"/lib/libcairn.so | awk '/SONAME/ {print $2}')
[[ $soname == libcairn.so.${version%.*} ]] || { echo "SONAME is '$soname'" >&2; exit 1; }
if [[ -e $prefix/include/backends || -e $prefix/include/actors ]]; then echo "internals installed" >&2; exit 1; fi
[[ $("$prefix/bin/cairn" --version) == "cairn $version" ]]

echo "== examples/service against the installed package"
cmake -S "$src/examples/service" -B "$work/service" -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_FLAGS="-Wall -Wextra -Werror $consumer_flags" >/dev/null
cmake --build "$work/service" -j2
ctest --test-dir "$work/service" --output-on-failure

echo "== a program built through cairn.pc"
cat >"$work/hello.cpp" <<'CPP'
#include <cairn/cairn.hpp>
#include <iostream>
int main() { std::cout << CAIRN_VERSION << " " << cairn::make_message("s-1", "t.x", {{"a", 1}}).type << "\n"; }
CPP
# shellcheck disable=SC2046,SC2086
g++ -std=c++20 $consumer_flags "$work/hello.cpp" -o "$work/hello" $(PKG_CONFIG_PATH=$prefix/lib/pkgconfig pkg-config --cflags --libs cairn)
[[ $(LD_LIBRARY_PATH=$prefix/lib "$work/hello") == "$version t.x" ]]

echo "== the .deb"
(cd "$build" && cpack -G DEB -B "$work/deb" >/dev/null)
deb=$(ls "$work"/deb/cairn_*.deb)
dpkg-deb --field "$deb" Depends | tee "$work/depends"
grep -q "libcaf-core" "$work/depends" && grep -q "libpqxx" "$work/depends"
dpkg -x "$deb" "$work/root"
[[ $("$work/root/usr/bin/cairn" --version) == "cairn $version" ]]
echo "package test passed: $deb"
