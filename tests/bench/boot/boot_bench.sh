#!/bin/bash
# Boot benchmark (prints, does not assert): in one sandbox run, Ember and QEMU's `-M microvm`
# alternately boot the same bzImage with the same initrd, 1 vCPU / 128 MiB, ROUNDS times each
# (default 5), each with one virtio drive and one virtio-net interface. Prints, for each, median
# and min-max of process launch -> guest init marker, the monitor's own share of it (minus the
# guest's uptime at init), its resident memory but the guest's at init (smaps), the ratios
# Ember/QEMU, and Ember's own time from process start to the first KVM_RUN.
# Usage: tests/bench/boot/boot_bench.sh EMBER_BINARY [ROUNDS]   (BOOT_BENCH_KERNEL=vmlinux)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
ember=${1:?usage: boot_bench.sh EMBER_BINARY [ROUNDS]}
rounds=${2:-5}
eval "$("$root/resources/guest/images.sh" --ensure)"
# BOOT_BENCH_KERNEL=vmlinux boots the uncompressed ELF (PVH) instead: no decompression inside the
# guest before its clock starts, so the monitor's share is closer to the monitor's own time.
case "${BOOT_BENCH_KERNEL:-bzImage}" in
    bzImage) kernel=$BZIMAGE ;;
    vmlinux) kernel=$VMLINUX ;;
    *) echo "boot_bench: BOOT_BENCH_KERNEL is bzImage or vmlinux" >&2; exit 2 ;;
esac
# Hardware KVM runs it directly; anything else (no /dev/kvm, kvm_pvm) uses the nested sandbox.
if [[ -z "${EMBER_SANDBOX:-}" && ! -d /sys/module/kvm_intel && ! -d /sys/module/kvm_amd ]]; then
    export EMBER_SANDBOX=qemu
fi
out="$(mktemp)"
trap 'rm -f "$out"' EXIT
"$root/resources/sandbox/ember-sandbox" run --timeout 1200 --bin "$ember" \
    --file "$kernel:bzImage" --file "$INITRD:initrd" --file "$here/boot_bench_in_vm.sh:bench.sh" \
    -- bash bench.sh "$rounds" | tee "$out"

python3 - "$out" "${BOOT_BENCH_KERNEL:-bzImage}" <<'PY'
import statistics, sys

kernel_kind = {"bzImage": "bzImage (decompressed in the guest before its clock starts)",
               "vmlinux": "vmlinux (ELF, PVH entry: nothing to decompress)"}[sys.argv[2]]

runs = {"ember": [], "qemu": []}
for line in open(sys.argv[1]):
    if line.startswith("BOOT "):
        f = dict(kv.split("=", 1) for kv in line.split()[1:])
        runs[f["vmm"]].append(f)

def values(vmm, key, scale=1.0):
    return [int(r[key]) * scale for r in runs[vmm] if r.get(key, "none").isdigit()]

def timed(vmm):
    return [r for r in runs[vmm] if r["marker_ms"].isdigit() and r.get("uptime_ms", "").isdigit()]

def share(vmm):  # launch -> init minus the guest's uptime at init: the monitor's own time
    return [int(r["marker_ms"]) - int(r["uptime_ms"]) for r in timed(vmm)]

def share_pct(vmm):
    return [100 * (int(r["marker_ms"]) - int(r["uptime_ms"])) / int(r["marker_ms"])
            for r in timed(vmm)]

def kvm_run_pct(vmm):  # the monitor's own work before the guest's first instruction
    return [100 * int(r["first_kvm_run_us"]) / 1000 / int(r["marker_ms"]) for r in runs[vmm]
            if r.get("first_kvm_run_us", "").isdigit() and r["marker_ms"].isdigit()]

def cell(v, fmt="{:.0f}"):
    if not v:
        return "n/a"
    return f"{fmt.format(statistics.median(v))} [{fmt.format(min(v))}-{fmt.format(max(v))}]"

def med(v):
    return statistics.median(v) if v else None

rows = [("launch -> init ms", lambda v: values(v, "marker_ms"), "{:.0f}"),
        ("monitor's share ms", share, "{:.0f}"),
        ("monitor's share %", share_pct, "{:.1f}"),
        ("monitor RSS MiB", lambda v: values(v, "monitor_rss_kib", 1 / 1024), "{:.2f}"),
        ("  of it anonymous MiB", lambda v: values(v, "monitor_anon_kib", 1 / 1024), "{:.2f}"),
        ("start -> KVM_RUN ms", lambda v: values(v, "first_kvm_run_us", 1 / 1000), "{:.1f}"),
        ("  of launch -> init %", kvm_run_pct, "{:.1f}")]
print()
print(f"boot_bench: {kernel_kind}, median [min-max] over rounds; 1 vCPU, 128 MiB, one virtio drive,"
      " one virtio-net.")
print("monitor's share = launch -> init marker minus the guest's uptime at init (the time the guest")
print("was not running yet, its kernel's decompression included); monitor RSS = the VMM's resident")
print("memory but its guest memory, at init (the rest of it: the binary's pages it touched).")
print(f"{'':22s} {'Ember':>22s} {'QEMU microvm':>22s} {'Ember/QEMU':>10s}")
for label, get, fmt in rows:
    e, q = get("ember"), get("qemu")
    ratio = f"{med(e) / med(q):.2f}" if med(e) and med(q) else ""
    print(f"{label:22s} {cell(e, fmt):>22s} {cell(q, fmt):>22s} {ratio:>10s}")
e, q = med(values("ember", "marker_ms")), med(values("qemu", "marker_ms"))
if e and q:
    print(f"boot_bench: ratio Ember/QEMU launch -> init = {e / q:.2f} (issue 18's goal: 0.4 or lower)")
s = share_pct("ember")
if s:
    print(f"boot_bench: Ember's own share of launch -> init = {statistics.median(s):.1f}% "
          f"(goal: 10% or lower);\n  Ember's work before the guest's first instruction is "
          f"{cell(kvm_run_pct('ember'), '{:.1f}')}% of launch -> init; the rest of the share passes"
          f" with the guest\n  running before its clock starts (decompression, early setup, and the"
          f" exits Ember serves meanwhile)")
# Ember's timeline: each step's median ms after the launch (the log's wall-clock stamps, UTC).
from datetime import datetime, timezone
steps = [("running", "process running (first log line)"), ("memory", "guest memory mapped"),
         ("kernel", "kernel loaded"), ("acpi", "boot structures written"),
         ("kvm_run", "first KVM_RUN")]
timeline = {k: [] for k, _ in steps}
for line in open(sys.argv[1]):
    if not line.startswith("TIMELINE "):
        continue
    f = dict(kv.split("=", 1) for kv in line.split()[1:] if "=" in kv)
    launch = float(f["launch"])
    for key, _ in steps:
        stamp = f.get(key, "")
        try:
            t = datetime.fromisoformat(stamp[:26]).replace(tzinfo=timezone.utc).timestamp()
        except ValueError:
            continue
        timeline[key].append((t - launch) * 1000)
if any(timeline.values()):
    print("boot_bench: Ember's timeline, ms after launch, median [min-max]:")
    for key, label in steps:
        print(f"  {label:34s} {cell(timeline[key], '{:.1f}'):>24s}")
mem = values("ember", "monitor_rss_kib", 1 / 1024)
if mem:
    print(f"boot_bench: Ember's monitor RSS after boot = {statistics.median(mem):.2f} MiB "
          f"(goal: 2 MiB or lower; Firecracker publishes 5 MiB)")
PY
