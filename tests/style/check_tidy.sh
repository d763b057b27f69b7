#!/usr/bin/env bash
# Runs clang-tidy with the checked-in .clang-tidy over the project's own sources in a build
# folder's compile_commands.json (headers under the same folders included), in parallel, and
# fails on any finding. Prints each finding once and a count per check.
#   tests/style/check_tidy.sh [BUILD_DIR] [FILE_REGEX]
#     BUILD_DIR   a configured build folder (default build)
#     FILE_REGEX  only the sources whose path matches (default: all the project's own)
#     EMBER_JOBS  parallel clang-tidy processes (default nproc)
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
build="$(cd "${1:-$root/build}" && pwd)"
only="${2:-}"
jobs="${EMBER_JOBS:-$(nproc)}"
clang_tidy="${CLANG_TIDY:-clang-tidy}"
[[ -f $build/compile_commands.json ]] || { echo "check_tidy: no $build/compile_commands.json"; exit 2; }

# The project's own code, not generated files (the embedded seccomp blob) or system headers.
own="^$root/(vmm|devices|api|jailer|resources/seccomp|tests)/"
mapfile -t files < <(python3 - "$build/compile_commands.json" "$own" "$only" <<'PY'
import json, re, sys
db, own, only = sys.argv[1], re.compile(sys.argv[2]), re.compile(sys.argv[3])
for f in sorted({e["file"] for e in json.load(open(db))}):
    if own.search(f) and only.search(f):
        print(f)
PY
)
((${#files[@]})) || { echo "check_tidy: no matching sources in $build"; exit 2; }

out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
# One clang-tidy per source, its output in its own file so parallel runs do not interleave.
export build own clang_tidy out
printf '%s\n' "${files[@]}" | xargs -P "$jobs" -I{} bash -c \
    '"$clang_tidy" -p "$build" --quiet --header-filter="$own" "$1" \
        >"$out/$(md5sum <<<"$1" | cut -c1-16).log" 2>&1 || true' _ {}

# A header's findings come once per source that includes it: keep each finding once. A source
# that does not compile for clang-tidy shows up as clang-diagnostic-error.
cat "$out"/*.log |
    grep -E '^/[^:]+:[0-9]+:[0-9]+: (warning|error): .* \[[^]]+\]$' | sort -u >"$out/findings" || true
if [[ -s $out/findings ]]; then
    sed "s|^$root/||" "$out/findings"
    echo "check_tidy: findings per check:"
    sed -E 's/.*\[([^]]+)\]$/\1/' "$out/findings" | tr ',' '\n' | sort | uniq -c | sort -rn
    echo "check_tidy: $(wc -l <"$out/findings") finding(s) in ${#files[@]} sources"
    exit 1
fi
echo "check_tidy: ${#files[@]} sources, no findings"
