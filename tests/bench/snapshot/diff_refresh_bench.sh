#!/bin/bash
# Refreshing a warm snapshot from a clone (prints, does not assert). In one sandbox run, per machine
# shape (default 1x128 and 1x1024): a guest function's base snapshot; then ROUNDS (default 3)
# clones each answer one request and save a Diff snapshot and a Full one; the diff is merged onto
# a copy of the base, and a clone of the refreshed snapshot answers as the second invocation.
# Prints the diff's and the full save's time and size, median [min-max], with and without
# track_dirty_pages: a diff's cost follows the pages the clone dirtied, a full save's the guest's
# memory size. QEMU has no equivalent (its migration to a file always writes all of RAM), so no
# QEMU column.
# Usage: tests/bench/snapshot/diff_refresh_bench.sh EMBER_BINARY [ROUNDS] [EMBER_SNAPSHOT]
#   DIFF_BENCH_CFGS (default "1x128 1x1024"), DIFF_BENCH_TRACKS (default "true false").
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
# shellcheck source=../../integration/lib/host.sh
source "$root/tests/integration/lib/host.sh"
ember=${1:?usage: diff_refresh_bench.sh EMBER_BINARY [ROUNDS] [EMBER_SNAPSHOT]}
rounds=${2:-3}
tool=${3:-$(sibling_binary "$ember" ember-snapshot)}
[[ -x "$tool" ]] || { echo "diff_refresh_bench: ember-snapshot not found; pass it as 3rd argument" >&2; exit 2; }
curl_bin="$(command -v curl)" || { echo "diff_refresh_bench: curl is not installed" >&2; exit 2; }
read -r -a cfgs <<<"${DIFF_BENCH_CFGS:-1x128 1x1024}"
eval "$("$root/resources/guest/images.sh" --ensure)"
choose_sandbox_mode
work="$(mktemp -d /tmp/ember-diff-bench.XXXXXX)"
trap 'rm -rf "$work"' EXIT
# The function: guestfunc with a 4 MiB data file, in a copy of the shared rootfs.
"$here/guestfunc_rootfs.sh" "$ROOTFS" "$work/rootfs.ext4" /etc/func.data 4

"$root/resources/sandbox/ember-sandbox" run --timeout 2400 --mem 4096 --retry-outer-crash 1 \
    --bin "$ember" --bin "$tool" --bin "$curl_bin" \
    --file "$BZIMAGE:bzImage" --file "$work/rootfs.ext4:rootfs.ext4" \
    --file "$here/diff_refresh_in_vm.sh:bench.sh" --file "$here/bench_lib_in_vm.sh:bench_lib_in_vm.sh" \
    -- env TRACKS="${DIFF_BENCH_TRACKS:-true false}" bash bench.sh "$rounds" "${cfgs[@]}" | tee "$work/out.txt"

python3 - "$work/out.txt" <<'PY'
import statistics, sys

def spread(values):
    if not values:
        return "n/a"
    return f"{statistics.median(values):.0f} [{min(values):.0f}-{max(values):.0f}]"

rows, base = {}, {}
for line in open(sys.argv[1]):
    words = line.split()
    if not words or words[0] not in ("BASE", "ROUND") or any(w.startswith("error=") for w in words):
        continue
    f = dict(w.split("=", 1) for w in words[1:] if "=" in w)
    if words[0] == "BASE":
        base[f["cfg"]] = f
    else:
        rows.setdefault((f["cfg"], f["track"]), []).append(f)

print()
print("diff_refresh_bench: a clone answers one request, then saves a Diff and a Full snapshot;"
      " the diff is merged onto a copy of the base.\nms and KiB (allocated) as median [min-max] over"
      " the rounds; track: track_dirty_pages (KVM dirty log) or pagemap.")
head = (f"{'shape':8s} {'track':6s} {'diff save ms':>16s} {'full save ms':>16s} {'diff/full':>10s} "
        f"{'diff KiB':>18s} {'full KiB':>18s} {'merge ms':>14s}  refreshed clone")
print(head)
print("-" * len(head))
for (cfg, track), runs in sorted(rows.items(), key=lambda kv: (len(kv[0][0]), kv[0])):
    num = lambda k: [int(r[k]) for r in runs if r.get(k, "").isdigit()]
    ratios = [int(r["diff_ms"]) / int(r["full_ms"]) for r in runs if int(r["full_ms"]) > 0]
    verify = ",".join(r["verify"] for r in runs if "verify" in r) or "n/a"
    print(f"{cfg:8s} {track:6s} {spread(num('diff_ms')):>16s} {spread(num('full_ms')):>16s} "
          f"{(f'{statistics.median(ratios):.3f}' if ratios else 'n/a'):>10s} "
          f"{spread(num('diff_kib')):>18s} {spread(num('full_kib')):>18s} "
          f"{spread(num('merge_ms')):>14s}  {verify}")
for cfg, b in base.items():
    print(f"diff_refresh_bench: {cfg} base: boot to FUNC READY {b['boot_ms']} ms, Full save"
          f" {b['save_ms']} ms, {b['mem_kib']} KiB")
PY
