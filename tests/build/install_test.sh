#!/usr/bin/env bash
# What the README installs: `cmake --install BUILD --strip --prefix DIR` puts ember, ember-jailer,
# ember-snapshot and ember-uffd-handler in DIR/bin, stripped (no symbol table, no debug info) and
# static (no program interpreter, no shared libraries), and the installed ember runs.
# Usage: install_test.sh BUILD_DIR
set -euo pipefail
build=${1:?usage: install_test.sh BUILD_DIR}
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
fail=0
cmake --install "$build" --strip --prefix "$tmp" >"$tmp/install.log" || { cat "$tmp/install.log"; exit 1; }
for name in ember ember-jailer ember-snapshot ember-uffd-handler; do
    bin="$tmp/bin/$name"
    [[ -x $bin ]] || { echo "FAIL: $name is not installed in bin/"; fail=1; continue; }
    sections="$(readelf -S -W "$bin")"
    if grep -qE ' \.(symtab|debug_[a-z]+) ' <<<"$sections"; then
        echo "FAIL: $name keeps a symbol table or debug info: $(grep -oE '\.(symtab|debug_[a-z]+)' <<<"$sections" | paste -sd' ')"
        fail=1
    fi
    if readelf -l -W "$bin" | grep -q INTERP || readelf -d -W "$bin" | grep -q NEEDED; then
        echo "FAIL: $name is not static (the jailer copies it alone into the jail)"; fail=1
    fi
    echo "$name: $(stat -c %s "$bin") bytes installed, $(stat -c %s "$build/$(find "$build" -name "$name" -type f -perm -u+x -printf '%P\n' | head -1)") built"
done
version="$("$tmp/bin/ember" --version 2>&1)" || { echo "FAIL: the installed ember --version failed: $version"; fail=1; }
echo "installed ember --version: $version"
((fail == 0)) && echo "install_test: PASS"
exit $fail
