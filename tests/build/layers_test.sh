#!/usr/bin/env bash
# The layer checks can fail: cmake/check_includes.py and ember_check_layers (cmake/layers.cmake)
# run on small fixture trees with a two-layer table (low <- high, and `side` beside low). The
# clean fixture passes; an upward include, an include of a same-rank layer, a file in no layer,
# an upward link, a link to a same-rank layer and a library in no layer each fail, naming the
# file:line or the targets. Then the real tree's includes pass.
set -euo pipefail
src="$(cd "$(dirname "$0")/../.." && pwd)"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
fail=0

table() {  # table DIR: writes the fixture's layer table.
    mkdir -p "$1/cmake"
    cat >"$1/cmake/layers.txt" <<'EOF'
roots: low side high
low  |          | low  | low_lib
side |          | side | side_lib
high | low      | high | high_lib high_tool
EOF
}

# expect NAME WANT OUTPUT_PATTERN COMMAND...: runs COMMAND; WANT is pass or fail.
expect() {
    local name="$1" want="$2" pattern="$3"; shift 3
    local out rc=0
    out="$("$@" 2>&1)" || rc=$?
    if [[ $want == pass && $rc != 0 ]]; then
        echo "FAIL: $name: expected success, got $rc:"; echo "$out"; fail=1
    elif [[ $want == fail && $rc == 0 ]]; then
        echo "FAIL: $name: the check passed a violation"; fail=1
    elif ! grep -qE -- "$pattern" <<<"$out"; then
        echo "FAIL: $name: output lacks /$pattern/:"; echo "$out"; fail=1
    else
        echo "ok: $name"
    fi
}

# Include check.
includes() {  # includes CASE: a fixture tree whose high/b.cc includes low/a.h.
    local dir="$tmp/inc-$1"
    table "$dir"
    mkdir -p "$dir/low" "$dir/side" "$dir/high"
    printf '#pragma once\n' >"$dir/low/a.h"
    printf '#pragma once\n' >"$dir/side/s.h"
    printf '#pragma once\n#include "low/a.h"\n' >"$dir/high/b.h"
    printf '#include "high/b.h"\n#include "low/a.h"\n' >"$dir/high/b.cc"
    echo "$dir"
}
check() { python3 "$src/cmake/check_includes.py" --root "$1"; }

dir="$(includes clean)"
expect "includes: a clean tree passes" pass "" check "$dir"
dir="$(includes upward)"
printf '#pragma once\n\n#include "high/b.h"\n' >"$dir/low/a.h"
expect "includes: low including high fails" fail 'low/a.h:3: layer low includes "high/b.h"' \
    check "$dir"
dir="$(includes sideways)"
printf '#include "side/s.h"\n' >>"$dir/high/b.cc"
expect "includes: high including side fails" fail 'high/b.cc:3: .*of layer side' check "$dir"
dir="$(includes unplaced)"
sed -i 's/^roots:.*/roots: low side high extra/' "$dir/cmake/layers.txt"
mkdir -p "$dir/extra" && printf '#pragma once\n' >"$dir/extra/e.h"
expect "includes: a file in no layer fails" fail 'extra/e.h: in no layer' check "$dir"
dir="$(includes missing)"
printf '#include "low/gone.h"\n' >>"$dir/high/b.cc"
expect "includes: a header that is not there fails" fail 'high/b.cc:3: "low/gone.h" is no file' \
    check "$dir"

# Target check: a CMake project of the fixture's libraries, configured with the real function.
targets() {  # targets CASE EXTRA_CMAKE: configures a fixture project; EXTRA_CMAKE is appended.
    local dir="$tmp/cmake-$1"
    table "$dir"
    printf 'int f(void) { return 0; }\n' >"$dir/f.c"
    cat >"$dir/CMakeLists.txt" <<EOF
cmake_minimum_required(VERSION 3.25)
project(layers_fixture C)
include($src/cmake/layers.cmake)
add_library(low_lib STATIC f.c)
add_library(side_lib INTERFACE)
add_library(high_lib STATIC f.c)
target_link_libraries(high_lib PUBLIC low_lib)
add_executable(high_tool f.c)
target_link_libraries(high_tool PRIVATE high_lib)
$2
ember_check_layers(TABLE \${CMAKE_SOURCE_DIR}/cmake/layers.txt EXEMPT tests)
EOF
    cmake -S "$dir" -B "$dir/build" -G Ninja
}
expect "targets: a clean graph passes" pass "" targets clean ""
expect "targets: low linking high fails" fail \
    'low_lib \(layer low\) links high_lib \(layer high\)' \
    targets upward 'target_link_libraries(low_lib PRIVATE high_lib)'
expect "targets: an upward interface link fails" fail \
    'side_lib \(layer side\) links low_lib \(layer low\)' \
    targets interface 'target_link_libraries(side_lib INTERFACE $<BUILD_INTERFACE:low_lib>)'
expect "targets: high linking side fails" fail 'high_tool \(layer high\) links side_lib' \
    targets sideways 'target_link_libraries(high_tool PRIVATE side_lib)'
expect "targets: a library in no layer fails" fail 'new_lib \(\.\) is in no layer' \
    targets unplaced 'add_library(new_lib STATIC f.c)'
mkdir -p "$tmp/cmake-exempt/tests"
printf 'add_executable(t ../f.c)\ntarget_link_libraries(t PRIVATE side_lib high_lib)\n' \
    >"$tmp/cmake-exempt/tests/CMakeLists.txt"
expect "targets: folders given as EXEMPT may link anything" pass "" \
    targets exempt 'add_subdirectory(tests)'

# The real tree.
expect "includes: the source tree passes" pass "" check "$src"

((fail == 0)) && echo "layers: both checks pass the clean fixtures and fail every violation"
exit $fail
