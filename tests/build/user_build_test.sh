#!/usr/bin/env bash
# A user's or packager's build (cmake -DCMAKE_BUILD_TYPE=Release with no project options) must not
# turn warnings into errors: a newer compiler's false warning would break it (GCC 12 at -O3 warns
# -Wrestrict inside libstdc++). The project's own builds opt in with -DEMBER_WERROR=ON. This
# configures both ways and reads the compile commands; it does not compile.
set -euo pipefail
src="$(cd "$(dirname "$0")/../.." && pwd)"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
fail=0

configure() {  # configure DIR ARGS...: configures the tree and prints its compile commands.
    local dir="$tmp/$1"; shift
    cmake -S "$src" -B "$dir" -G Ninja "$@" >"$dir.log" 2>&1 || { cat "$dir.log"; exit 1; }
    cat "$dir/compile_commands.json"
}

release="$(configure release -DCMAKE_BUILD_TYPE=Release -DEMBER_BUILD_TESTS=OFF)"
if grep -q -- '-Werror' <<<"$release"; then
    echo "FAIL: a plain Release build compiles with -Werror"; fail=1
fi
grep -q -- '-O3' <<<"$release" || { echo "FAIL: the Release build is not the -O3 one checked"; fail=1; }
grep -q 'vmm/main.cc' <<<"$release" || { echo "FAIL: the Release build without tests lacks ember"; fail=1; }
if grep -q 'tests/unit' <<<"$release"; then
    echo "FAIL: -DEMBER_BUILD_TESTS=OFF still builds the tests"; fail=1
fi

own="$(configure own -DCMAKE_BUILD_TYPE=RelWithDebInfo -DEMBER_WERROR=ON)"
missing="$(python3 -c '
import json, sys
cmds = json.load(sys.stdin)
print(sum(1 for c in cmds if "-Werror" not in c["command"]))' <<<"$own")"
if [[ $missing != 0 ]]; then
    echo "FAIL: with -DEMBER_WERROR=ON, $missing compile commands lack -Werror"; fail=1
fi

((fail == 0)) && echo "user_build: Release has no -Werror, -DEMBER_WERROR=ON has it everywhere"
exit $fail
