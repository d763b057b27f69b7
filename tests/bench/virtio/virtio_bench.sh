#!/bin/bash
# virtio benchmark (prints, does not assert): in one sandbox run, Ember with the Sync and the Async
# block engine and QEMU -M microvm (virtio-blk-device, the data drive on aio=io_uring,
# virtio-net-device on a tap, no vhost) boot the same kernel and ext4 root with a 256 MiB data
# drive and a tap, ROUNDS times each in turn (default 5), each round in a sandbox run of its own.
# In the guest, guestbench (O_DIRECT) measures sequential write and read MiB/s (128 MiB, 1 MiB requests, queue depth 1), 4 KiB random
# read IOPS (8 s) at queue depth 1 and, from 8 threads, at depth 8, and TCP MiB/s guest -> sandbox
# and sandbox -> guest (64 MiB each). Prints each figure's median [min-max] and spread over the
# rounds, Ember/QEMU on the medians, the VMM's CPU seconds per GiB moved for the sequential and
# TCP figures (its own threads, and with its vCPU threads), and its CPU seconds per run.
# With BASELINE (an earlier build's ember), that one runs in the same rounds too ("before" rows).
# Usage: tests/bench/virtio/virtio_bench.sh EMBER_BINARY [ROUNDS [BASELINE]]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
ember=${1:?usage: virtio_bench.sh EMBER_BINARY [ROUNDS]}
rounds=${2:-5}
baseline=() per_round=600
[[ -z ${3:-} ]] || baseline=(--file "$3:ember-before") per_round=1000
eval "$("$root/resources/guest/images.sh" --ensure)"
# shellcheck source=../../integration/lib/host.sh
source "$root/tests/integration/lib/host.sh"
choose_sandbox_mode
work="$(mktemp -d /tmp/ember-virtio-bench.XXXXXX)"
trap 'rm -rf "$work"' EXIT
gcc -static -O2 -Wall -Wextra -pthread -o "$work/guestbench" "$here/guestbench.c"
cp "$ROOTFS" "$work/rootfs.ext4"
cat >"$work/debugfs.cmds" <<CMDS
cd /etc
write $here/bench_guest.sh ember-test
cd /sbin
write $work/guestbench guestbench
sif guestbench mode 0100755
CMDS
debugfs -w -f "$work/debugfs.cmds" "$work/rootfs.ext4" >/dev/null 2>&1
# One sandbox run per round: a freeze or crash of the outer VM (seen here: its heartbeat stopped
# with every vCPU idle, 287 s into a run of 3 rounds) costs one rerun of that round, not the whole
# run, and sandbox_run_rerun keeps only the rerun's output (from its RUN-IN-VM-START line on).
: >"$work/out.txt"
for round in $(seq 1 "$rounds"); do
    sandbox_run_rerun virtio_bench "$work/round.txt" --timeout $((300 + per_round)) --mem 3072 \
        --bin "$ember" "${baseline[@]}" --file "$BZIMAGE:bzImage" \
        --file "$work/rootfs.ext4:rootfs.ext4" --file "$here/virtio_bench_in_vm.sh:bench.sh" \
        -- bash bench.sh 1 "$round" ||
        echo "virtio_bench: round $round: the sandbox failed (exit $?)"
    tee -a "$work/out.txt" <"$work/round.txt"
done

python3 - "$work/out.txt" <<'PY'
import statistics, sys

# MiB each figure moves, for its CPU seconds per GiB (bench_guest.sh's sizes).
moved_mib = {"seq_write_mibps": 128, "seq_read_mibps": 128, "tcp_send_mibps": 64, "tcp_recv_mibps": 64}
results, cpu, cpu_per_gib, own_per_gib = {}, {}, {}, {}
for line in open(sys.argv[1]):
    words = line.split()
    if not words or words[0] not in ("RESULT", "CPU", "PHASECPU"):
        continue
    f = dict(kv.split("=", 1) for kv in words[1:] if "=" in kv)
    vmm = f.pop("vmm")
    f.pop("round", None)
    if words[0] == "PHASECPU":
        if f.get("key") in moved_mib:
            gib = moved_mib[f["key"]] / 1024
            cpu_per_gib.setdefault(vmm, {}).setdefault(f["key"], []).append(float(f["cpu_s"]) / gib)
            if "own_s" in f:
                own_per_gib.setdefault(vmm, {}).setdefault(f["key"], []).append(float(f["own_s"]) / gib)
        continue
    if words[0] == "CPU":
        try:
            cpu.setdefault(vmm, []).append(float(f["user_s"]) + float(f["sys_s"]))
        except (KeyError, ValueError):
            pass
        continue
    for key, value in f.items():
        try:
            results.setdefault(vmm, {}).setdefault(key, []).append(float(value))
        except ValueError:
            pass

def med(v):
    return statistics.median(v) if v else None

def cell(v):
    if not v:
        return "n/a"
    m = statistics.median(v)
    spread = 100 * (max(v) - min(v)) / m if m else 0
    return f"{m:.1f} [{min(v):.1f}-{max(v):.1f}] {spread:.0f}%"

metrics = [("seq_write_mibps", "sequential write MiB/s"), ("seq_read_mibps", "sequential read MiB/s"),
           ("rand_read_4k_iops", "4 KiB random read IOPS"),
           ("rand_read_4k_qd8_iops", "4 KiB rand read QD8 IOPS"), ("tcp_send_mibps", "TCP guest->host MiB/s"),
           ("tcp_recv_mibps", "TCP host->guest MiB/s")]

def table(title, values, units=True):
    if not values:
        return  # No sampler reported it (the in-VM script's own-CPU column is not there yet).
    qemu = values.get("qemu", {})
    print()
    print(f"virtio_bench: {title}")
    print(f"{'':38s} {'engine':11s} {'Ember':>28s} {'QEMU':>28s} {'Ember/QEMU':>10s}")
    for vmm in ("ember-sync", "before-sync", "ember-async", "before-async"):
        if vmm not in values:
            continue
        for key, label in metrics:
            ours, theirs = values.get(vmm, {}).get(key, []), qemu.get(key, [])
            if not ours and not theirs:
                continue
            ratio = f"{med(ours) / med(theirs):.2f}" if med(ours) and med(theirs) else "n/a"
            label = label if units else label.rsplit(" ", 1)[0]
            print(f"virtio_bench: {label:24s} {vmm:11s} {cell(ours):>28s} {cell(theirs):>28s} {ratio:>10s}")

print()
print("virtio_bench: median [min-max] spread over rounds (spread = (max-min)/median); Ember/QEMU on medians")
table("throughput (higher is better)", results)
table("monitor's own CPU seconds per GiB moved, its vCPU threads left out (lower is better;"
      " sampled every 50 ms)", own_per_gib, units=False)
table("whole VMM process CPU seconds per GiB moved, the guest's time in its vCPU threads"
      " included", cpu_per_gib, units=False)
for vmm in ("ember-sync", "before-sync", "ember-async", "before-async", "qemu"):
    if vmm not in cpu:
        continue
    print(f"virtio_bench: {vmm} CPU seconds per run (boot and every benchmark): {cell(cpu.get(vmm, []))}")
print("virtio_bench: what keeps the figures noisy: the nested TCG sandbox (every guest exit and its"
      " I/O is emulated,\n  10-50x native, on 2 host CPUs shared with the outer VM's own threads), the host"
      " page cache behind\n  both VMMs' files (writeback timing), and queue depth 1 in all but the QD8 figure"
      " (one request in\n  flight makes each figure a latency, which any scheduling hiccup moves)")
PY
