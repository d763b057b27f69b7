#!/bin/bash
# Boot benchmark (prints, does not assert): in one sandbox run, Ember and QEMU's `-M microvm`
# alternately boot the same bzImage with the same initrd, 1 vCPU / 128 MiB, ROUNDS times each
# (default 5). Prints the median of process launch -> guest init marker for each, the ratio
# Ember/QEMU, and Ember's own time from process start to the first KVM_RUN.
# Usage: tests/bench/boot/boot_bench.sh EMBER_BINARY [ROUNDS]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
ember=${1:?usage: boot_bench.sh EMBER_BINARY [ROUNDS]}
rounds=${2:-5}
eval "$("$root/resources/guest/images.sh" --ensure)"
# Hardware KVM runs it directly; anything else (no /dev/kvm, kvm_pvm) uses the nested sandbox.
if [[ -z "${EMBER_SANDBOX:-}" && ! -d /sys/module/kvm_intel && ! -d /sys/module/kvm_amd ]]; then
    export EMBER_SANDBOX=qemu
fi
out="$(mktemp)"
trap 'rm -f "$out"' EXIT
"$root/resources/sandbox/ember-sandbox" run --timeout 1200 --bin "$ember" \
    --file "$BZIMAGE:bzImage" --file "$INITRD:initrd" --file "$here/boot_bench_in_vm.sh:bench.sh" \
    -- bash bench.sh "$rounds" | tee "$out"

python3 - "$out" <<'PY'
import statistics, sys
runs = {"ember": [], "qemu": []}
first = []
for line in open(sys.argv[1]):
    if not line.startswith("BOOT "):
        continue
    f = dict(kv.split("=", 1) for kv in line.split()[1:])
    if f["marker_ms"] != "none":
        runs[f["vmm"]].append(int(f["marker_ms"]))
    if f["vmm"] == "ember" and f["first_kvm_run_us"].isdigit():
        first.append(int(f["first_kvm_run_us"]))
for vmm, times in runs.items():
    print(f"boot_bench: {vmm:5s} launch -> init marker: median {statistics.median(times) if times else float('nan'):.0f} ms "
          f"over {len(times)} boots {times}")
if runs["ember"] and runs["qemu"]:
    ratio = statistics.median(runs["ember"]) / statistics.median(runs["qemu"])
    print(f"boot_bench: ratio Ember/QEMU = {ratio:.2f} (goal: 0.5 or lower)")
if first:
    print(f"boot_bench: Ember process start -> first KVM_RUN: median {statistics.median(first) / 1000:.1f} ms")
PY
