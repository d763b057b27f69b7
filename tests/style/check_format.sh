#!/usr/bin/env bash
# Fails when any of the project's own C++ files differs from what clang-format makes of it with the
# checked-in .clang-format, and lists those files. To fix: clang-format -i on the listed files.
#   tests/style/check_format.sh [FILE...]     (default: every file under the project's folders)
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
clang_format="${CLANG_FORMAT:-clang-format}"
if (($#)); then
    files=("$@")
else
    mapfile -t files < <(git ls-files -- vmm devices api jailer resources/seccomp tests |
        grep -E '\.(h|hh|hpp|c|cc|cpp)$')
fi
# One clang-format run over all files; it names each differing file in its "file:line:col:" lines.
out="$(mktemp)"
trap 'rm -f "$out"' EXIT
status=0
"$clang_format" --dry-run --Werror --style=file "${files[@]}" 2>"$out" || status=$?
mapfile -t bad < <(sed -nE 's/^([^: ]+):[0-9]+:[0-9]+: (error|warning): .*/\1/p' "$out" | sort -u)
if ((status != 0 || ${#bad[@]})); then
    if ((${#bad[@]})); then printf '%s\n' "${bad[@]}"; else cat "$out"; fi
    echo "check_format: ${#bad[@]} of ${#files[@]} files differ from .clang-format" \
        "(clang-format -i them)"
    exit 1
fi
echo "check_format: ${#files[@]} files match .clang-format"
