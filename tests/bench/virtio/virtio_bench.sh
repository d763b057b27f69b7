#!/bin/bash
# virtio benchmark (prints, does not assert): in one sandbox run, Ember with the Sync and the Async
# block engine and QEMU -M microvm (virtio-blk-device, virtio-net-device on a tap, no vhost) boot the
# same kernel and ext4 root with a 256 MiB data drive and a tap. In the guest, guestbench (O_DIRECT,
# queue depth 1) measures sequential write and read MiB/s (128 MiB, 1 MiB requests), 4 KiB random
# read IOPS (8 s) and guest -> sandbox TCP MiB/s (64 MiB). Prints each figure and Ember/QEMU.
# Usage: tests/bench/virtio/virtio_bench.sh EMBER_BINARY
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
ember=${1:?usage: virtio_bench.sh EMBER_BINARY}
eval "$("$root/resources/guest/images.sh" --ensure)"
if [[ -z "${EMBER_SANDBOX:-}" && ! -d /sys/module/kvm_intel && ! -d /sys/module/kvm_amd ]]; then
    export EMBER_SANDBOX=qemu
fi
work="$(mktemp -d /tmp/ember-virtio-bench.XXXXXX)"
trap 'rm -rf "$work"' EXIT
gcc -static -O2 -Wall -Wextra -o "$work/guestbench" "$here/guestbench.c"
cp "$ROOTFS" "$work/rootfs.ext4"
cat >"$work/debugfs.cmds" <<CMDS
cd /etc
write $here/bench_guest.sh ember-test
cd /sbin
write $work/guestbench guestbench
sif guestbench mode 0100755
CMDS
debugfs -w -f "$work/debugfs.cmds" "$work/rootfs.ext4" >/dev/null 2>&1
"$root/resources/sandbox/ember-sandbox" run --timeout 1800 --mem 3072 --bin "$ember" \
    --file "$BZIMAGE:bzImage" --file "$work/rootfs.ext4:rootfs.ext4" \
    --file "$here/virtio_bench_in_vm.sh:bench.sh" -- bash bench.sh | tee "$work/out.txt"

python3 - "$work/out.txt" <<'PY'
import sys
results = {}
for line in open(sys.argv[1]):
    if not line.startswith("RESULT "):
        continue
    fields = dict(kv.split("=", 1) for kv in line.split()[1:])
    vmm = fields.pop("vmm")
    for key, value in fields.items():
        try:
            results.setdefault(vmm, {})[key] = float(value)
        except ValueError:
            pass
metrics = [("seq_write_mibps", "sequential write MiB/s"), ("seq_read_mibps", "sequential read MiB/s"),
           ("rand_read_4k_iops", "4 KiB random read IOPS"), ("tcp_send_mibps", "TCP guest->host MiB/s")]
qemu = results.get("qemu", {})
for vmm in ("ember-sync", "ember-async"):
    for key, label in metrics:
        ours, theirs = results.get(vmm, {}).get(key), qemu.get(key)
        ratio = f"{ours / theirs:.2f}" if ours and theirs else "n/a"
        print(f"virtio_bench: {label:24s} {vmm:11s} {ours if ours is not None else float('nan'):9.1f}"
              f"  qemu {theirs if theirs is not None else float('nan'):9.1f}  ratio Ember/QEMU {ratio}")
PY
