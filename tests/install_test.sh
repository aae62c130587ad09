#!/usr/bin/env bash
# The install test: does an installed Runic work for its users?
#
#   install_test.sh BUILD_DIR SOURCE_DIR [CMAKE] [CXX] [EXTRA_FLAGS]
#
# 1. cmake --install BUILD_DIR --prefix into a fresh temporary prefix;
# 2. librunic.so has a SONAME; the installed headers include no RocksDB header;
# 3. configures and builds SOURCE_DIR/examples (a standalone project) against
#    the prefix with find_package(runic) and runs its store_demo;
# 4. compiles examples/store_demo.cc with the flags `pkg-config --cflags --libs
#    runic` gives for the prefix, and runs it;
# 5. runs the installed bin/runic (--help, ls on the example's store, demo,
#    which runs libexec/runic/order_service) with no LD_LIBRARY_PATH: the
#    installed programs find librunic through their $ORIGIN-relative RUNPATH.
#
# This test compiles, but only in its own temporary directory (removed at the
# end): it never writes to BUILD_DIR, so it does not take the build lock
# (/tmp/runic-build.lock) -- and must not, since ctest may run while a build
# holds it. EXTRA_FLAGS (e.g. -fsanitize=...) go to every compile and link.
set -euo pipefail

if (($# < 2)); then
  echo "usage: $0 BUILD_DIR SOURCE_DIR [CMAKE] [CXX] [EXTRA_FLAGS]" >&2
  exit 2
fi
build_dir=$(cd "$1" && pwd)
src_dir=$(cd "$2" && pwd)
cmake=${3:-cmake}
cxx=${4:-g++}
extra_flags=${5:-}

work=$(mktemp -d "${TMPDIR:-/tmp}/runic-install-test-XXXXXX")
trap 'rm -rf "$work"' EXIT
prefix=$work/prefix

step() { echo; echo "== $*"; }
fail() { echo; echo "INSTALL TEST FAILED: $*" >&2; exit 1; }
# run LOG CMD...: runs CMD with its output in LOG; prints LOG when it fails.
run() {
  local log=$1; shift
  if ! "$@" >"$log" 2>&1; then
    cat "$log"
    return 1
  fi
}

step "cmake --install $build_dir --prefix $prefix"
run "$work/install.log" "$cmake" --install "$build_dir" --prefix "$prefix" ||
  fail "cmake --install failed (is the library built? run cmake --build first)"
sed 's/^/  /' "$work/install.log"

lib=$(find "$prefix" -name librunic.so -print -quit)
[ -n "$lib" ] || fail "no librunic.so under $prefix"
libdir=$(dirname "$lib")
config=$(find "$prefix" -name runicConfig.cmake -print -quit)
[ -n "$config" ] || fail "no runicConfig.cmake under $prefix"
[ -f "$(dirname "$config")/runicConfigVersion.cmake" ] || fail "no runicConfigVersion.cmake next to $config"
pc=$(find "$prefix" -name runic.pc -print -quit)
[ -n "$pc" ] || fail "no runic.pc under $prefix"
[ -f "$prefix/include/runic/runic.h" ] || fail "no $prefix/include/runic/runic.h"
echo "  library $lib"
echo "  cmake   $config"
echo "  pc      $pc"

step "librunic.so has a SONAME"
soname=$(readelf -d "$lib" | grep SONAME | sed -n 's/.*\[\(.*\)\].*/\1/p') ||
  fail "$lib has no SONAME (readelf -d shows none)"
[ -n "$soname" ] || fail "$lib has no SONAME"
echo "  SONAME $soname"
[ -e "$libdir/$soname" ] || fail "the SONAME $soname is not installed next to $lib"

step "the installed headers include no RocksDB header"
if grep -rnE '^[[:space:]]*#[[:space:]]*include[[:space:]]*[<"]rocksdb/' "$prefix/include"; then
  fail "installed headers include RocksDB headers (above); RocksDB must stay private"
fi
echo "  none"

step "build examples/ with find_package(runic) (CMAKE_PREFIX_PATH=$prefix)"
# The package registry is off so that nothing but the prefix can be found.
run "$work/examples-configure.log" "$cmake" -S "$src_dir/examples" -B "$work/examples-build" \
  -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$prefix" \
  -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF \
  -DCMAKE_CXX_COMPILER="$cxx" \
  -DCMAKE_CXX_FLAGS="-Werror $extra_flags" \
  -DCMAKE_EXE_LINKER_FLAGS="$extra_flags" ||
  fail "configuring examples/ against the installed package failed (find_package(runic))"
found=$(sed -n 's/^runic_DIR:PATH=//p' "$work/examples-build/CMakeCache.txt")
case "$found" in
  "$prefix"/*) echo "  runic_DIR $found" ;;
  *) fail "find_package(runic) found '$found', not the package installed under $prefix" ;;
esac
run "$work/examples-build.log" "$cmake" --build "$work/examples-build" -j2 ||
  fail "building examples/ against the installed package failed"

step "run the example built with CMake (LD_LIBRARY_PATH=$libdir)"
# ldd's output is captured first: `ldd | grep -q` can fail under pipefail
# when grep exits early and ldd gets SIGPIPE.
linked=$(LD_LIBRARY_PATH="$libdir" ldd "$work/examples-build/store_demo")
grep -q "librunic.so.* => $libdir/" <<<"$linked" ||
  fail "store_demo does not load librunic from $libdir: $(grep runic <<<"$linked")"
LD_LIBRARY_PATH="$libdir" "$work/examples-build/store_demo" "$work/db-cmake" ||
  fail "the example built with CMake against the installed package failed"

step "build examples/store_demo.cc with pkg-config (PKG_CONFIG_PATH=$(dirname "$pc"))"
pc_flags=$(PKG_CONFIG_PATH=$(dirname "$pc") pkg-config --cflags --libs runic) ||
  fail "pkg-config --cflags --libs runic failed"
echo "  pkg-config --cflags --libs runic: $pc_flags"
pc_includedir=$(PKG_CONFIG_PATH=$(dirname "$pc") pkg-config --variable=includedir runic)
pc_libdir=$(PKG_CONFIG_PATH=$(dirname "$pc") pkg-config --variable=libdir runic)
[ "$pc_includedir" -ef "$prefix/include" ] ||
  fail "runic.pc's includedir is '$pc_includedir', not $prefix/include: the .pc does not follow 'cmake --install --prefix' (runic.pc is configured with the configure-time prefix; it should find it from \${pcfiledir})"
[ "$pc_libdir" -ef "$libdir" ] ||
  fail "runic.pc's libdir is '$pc_libdir', not $libdir: the .pc does not follow 'cmake --install --prefix' (runic.pc is configured with the configure-time prefix; it should find it from \${pcfiledir})"
# shellcheck disable=SC2086  # the flags are meant to split into words
run "$work/pkg-config-build.log" "$cxx" -O2 -Wall -Wextra -Werror $extra_flags \
  "$src_dir/examples/store_demo.cc" $pc_flags -o "$work/store_demo_pc" ||
  fail "compiling examples/store_demo.cc with pkg-config's flags failed"

step "run the example built with pkg-config (LD_LIBRARY_PATH=$libdir)"
LD_LIBRARY_PATH="$libdir" "$work/store_demo_pc" "$work/db-pkg-config" ||
  fail "the example built with pkg-config against the installed package failed"

step "run the installed programs with a clean environment (no LD_LIBRARY_PATH)"
# What a user gets from the prefix as it is: bin/runic and the programs it
# runs (libexec/runic/) must find librunic through their own RUNPATH
# ($ORIGIN-relative, so the prefix may move), not through the environment.
runic_bin=$prefix/bin/runic
service=$(find "$prefix" -path '*/runic/order_service' -type f -print -quit)
[ -x "$runic_bin" ] || fail "no $runic_bin"
[ -n "$service" ] || fail "no libexec/runic/order_service under $prefix"
mkdir -p "$work/tmp"
clean_env=(env -i PATH=/usr/bin:/bin "TMPDIR=$work/tmp")
# A sanitized build's settings (suppressions) are not library paths: kept.
for var in ASAN_OPTIONS UBSAN_OPTIONS LSAN_OPTIONS TSAN_OPTIONS; do
  if [ -n "${!var:-}" ]; then clean_env+=("$var=${!var}"); fi
done
for program in "$runic_bin" "$service"; do
  runpath=$(readelf -d "$program" | sed -n 's/.*(R\(UN\)\{0,1\}PATH).*\[\(.*\)\]/\2/p')
  case "$runpath" in
    *'$ORIGIN'*) echo "  $program: RUNPATH $runpath" ;;
    *) fail "$program has no \$ORIGIN-relative RUNPATH (readelf -d: '${runpath}'): it cannot find librunic without LD_LIBRARY_PATH" ;;
  esac
  linked=$("${clean_env[@]}" ldd "$program" | sed -n 's/^[[:space:]]*librunic\.so[^ ]* => \([^ ]*\) .*/\1/p')
  [ -n "$linked" ] && [ "$(realpath "$(dirname "$linked")")" = "$(realpath "$libdir")" ] ||
    fail "$program does not load librunic from $libdir without LD_LIBRARY_PATH (ldd: '${linked}')"
done
run "$work/runic-help.log" "${clean_env[@]}" "$runic_bin" --help ||
  fail "the installed $runic_bin --help failed"
grep -q '^Usage: runic' "$work/runic-help.log" || {
  cat "$work/runic-help.log"
  fail "the installed $runic_bin --help printed no usage"
}
echo "  runic --help: ok"
# The store the example built with CMake wrote above, read by the installed
# tool.
run "$work/runic-ls.log" "${clean_env[@]}" "$runic_bin" ls --json --store "disk://$work/db-cmake" --runner orders ||
  fail "the installed runic ls on the example's store failed"
grep -q '"id":"order-1001"' "$work/runic-ls.log" || {
  cat "$work/runic-ls.log"
  fail "the installed runic ls does not list the example's workflow order-1001"
}
echo "  runic ls on the example's store: $(cat "$work/runic-ls.log")"
# runic demo runs the installed libexec/runic/order_service (killed and
# resumed: about a second); it names the program it runs, so that a build
# tree's copy cannot stand in for it.
run "$work/runic-demo.log" "${clean_env[@]}" "$runic_bin" demo --orders 5 --kill-at 10 ||
  fail "the installed runic demo failed"
grep -qF "service $service" "$work/runic-demo.log" || {
  cat "$work/runic-demo.log"
  fail "runic demo did not run the installed $service"
}
grep -q 'report: OK' "$work/runic-demo.log" || {
  cat "$work/runic-demo.log"
  fail "the installed runic demo did not report OK"
}
echo "  runic demo with $service: report: OK"

echo
echo "install test passed"
