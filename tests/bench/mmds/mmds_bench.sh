#!/bin/bash
# MMDS benchmark (prints, does not assert): in one sandbox run, a guest fetches one metadata value
# 300 times, each over a new TCP connection, (a) from Ember's MMDS (served by the VMM on the
# guest's virtio-net, V1) and (b) under QEMU -M microvm from a busybox httpd on the tap, the way a
# QEMU user serves metadata. ROUNDS alternating rounds (default 3); prints requests/s and median
# latency per VMM as median [min-max] over rounds, and the Ember/QEMU ratio of the medians.
# Usage: tests/bench/mmds/mmds_bench.sh EMBER_BINARY [ROUNDS]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
ember=${1:?usage: mmds_bench.sh EMBER_BINARY [ROUNDS]}
rounds=${2:-3}
eval "$("$root/resources/guest/images.sh" --ensure)"
if [[ -z "${EMBER_SANDBOX:-}" && ! -d /sys/module/kvm_intel && ! -d /sys/module/kvm_amd ]]; then
    export EMBER_SANDBOX=qemu
fi
work="$(mktemp -d /tmp/ember-mmds-bench.XXXXXX)"
trap 'rm -rf "$work"' EXIT
gcc -static -O2 -Wall -Wextra -o "$work/guestbench" "$root/tests/bench/virtio/guestbench.c"
cp "$ROOTFS" "$work/rootfs.ext4"
cat >"$work/debugfs.cmds" <<CMDS
cd /etc
write $here/bench_guest.sh ember-test
cd /sbin
write $work/guestbench guestbench
sif guestbench mode 0100755
CMDS
debugfs -w -f "$work/debugfs.cmds" "$work/rootfs.ext4" >/dev/null 2>&1
"$root/resources/sandbox/ember-sandbox" run --timeout 2400 --mem 2048 --bin "$ember" \
    --file "$BZIMAGE:bzImage" --file "$work/rootfs.ext4:rootfs.ext4" \
    --file "$here/mmds_bench_in_vm.sh:bench.sh" -- bash bench.sh "$rounds" | tee "$work/out.txt"

python3 - "$work/out.txt" <<'PY'
import statistics, sys
runs = {}
for line in open(sys.argv[1]):
    if line.startswith("RESULT "):
        f = dict(kv.split("=", 1) for kv in line.split()[1:])
        runs.setdefault(f["vmm"], []).append(f)
def spread(vmm, key):
    v = [float(r[key]) for r in runs.get(vmm, []) if key in r]
    return (statistics.median(v), min(v), max(v), len(v)) if v else None
for key, label in (("http_req_per_s", "requests/s"), ("http_p50_us", "median latency us")):
    e, q = spread("ember", key), spread("qemu", key)
    if not e or not q:
        print(f"mmds_bench: {label}: missing results (ember {e}, qemu {q})")
        continue
    print(f"mmds_bench: {label:18s} ember {e[0]:8.0f} [{e[1]:.0f}-{e[2]:.0f}]  "
          f"qemu+httpd {q[0]:8.0f} [{q[1]:.0f}-{q[2]:.0f}]  ratio Ember/QEMU {e[0] / q[0]:.2f}  "
          f"({e[3]} rounds)")
PY
