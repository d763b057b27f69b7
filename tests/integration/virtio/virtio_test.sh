#!/bin/bash
# virtio-block and virtio-net in real guests: builds a copy of the shared ext4 rootfs with the
# suite's guest script as /etc/ember-test, then runs the suite's in-sandbox script through
# resources/sandbox/ember-sandbox (one outer VM boot per suite). The in-sandbox script boots the
# guests with ember and prints `CHECK <name> PASS|FAIL <detail>` lines; this script passes when
# every expected check passed.
#   block: boot from the ext4 root on virtio-blk (no initrd); for each engine (Sync, Async): a
#          64 MiB random write whose guest checksum matches the file's, a read of a host-written
#          file, a read-only drive that refuses writes and stays unchanged, DISCARD shrinking the
#          file's allocated blocks.
#   net:   guest and sandbox ping each other over a tap, 64 MiB of TCP guest -> sandbox with
#          matching checksums, a TX bandwidth limit (second interface) within 20 %, and 16 MiB
#          sandbox -> guest and back, whole both ways, then back again with the guest reset as
#          soon as its last write() returns: the sandbox must hold at least half, all of it a
#          prefix of what it sent (a lost tail is what a reset may cost; other bytes never).
# Usage: virtio_test.sh --ember PATH --suite block|net [--timeout S]
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
source "$here/../lib/host.sh"
ember="" suite="" timeout_s=2400
while (($#)); do
    case "$1" in
        --ember) ember=$2; shift 2 ;;
        --suite) suite=$2; shift 2 ;;
        --timeout) timeout_s=$2; shift 2 ;;
        *) echo "virtio_test: unknown argument $1" >&2; exit 2 ;;
    esac
done
[[ -n "$ember" && -x "$ember" ]] || { echo "virtio_test: --ember must name the built binary" >&2; exit 2; }
case "$suite" in
    block) expected=(root_boot_sync root_boot_async
                     data_read_sync data_write_sync data_readback_sync ro_refused_sync ro_unchanged_sync discard_sync
                     data_read_async data_write_async data_readback_async ro_refused_async ro_unchanged_async discard_async) ;;
    net) expected=(guest_ping host_ping tcp_64mib tx_rate_limit tcp_16mib_to_guest tcp_16mib_back
                   tcp_16mib_then_reset) ;;
    *) echo "virtio_test: --suite must be block or net" >&2; exit 2 ;;
esac

load_guest_images virtio_test

work="$(mktemp -d /tmp/ember-virtio-test.XXXXXX)"
trap 'rm -rf "$work"' EXIT
cp "$ROOTFS" "$work/rootfs.ext4"
# guestbench (tests/bench/virtio) sends TCP with large writes: busybox nc's 1 KiB writes are too
# slow under nested TCG to tell a rate limit from the machine's own limit.
gcc -static -O2 -o "$work/guestbench" "$root/tests/bench/virtio/guestbench.c"
printf 'cd /etc\nwrite %s ember-test\ncd /sbin\nwrite %s guestbench\nsif guestbench mode 0100755\n' \
    "$here/${suite}_guest.sh" "$work/guestbench" >"$work/debugfs.cmds"
debugfs -w -f "$work/debugfs.cmds" "$work/rootfs.ext4" >/dev/null 2>&1
debugfs -R "cat /etc/ember-test" "$work/rootfs.ext4" 2>/dev/null | cmp -s - "$here/${suite}_guest.sh" || {
    echo "virtio_test: could not install the guest script into the rootfs copy" >&2
    exit 2
}

choose_sandbox_mode

out="$work/out.txt"
set +e
# A guest reset at a RIP where it has no code is the nested sandbox's: run again, up to twice.
sandbox_run_rerun virtio_test "$out" --timeout "$timeout_s" --mem 3072 \
    --bin "$ember" --bin "$work/guestbench" \
    --file "$BZIMAGE:bzImage" --file "$work/rootfs.ext4:rootfs.ext4" \
    --file "$here/${suite}_in_vm.sh:run.sh" -- bash run.sh
sandbox_rc=$?
set -e
cat "$out"

failed=0
for name in "${expected[@]}"; do
    if grep -q "^CHECK $name PASS" "$out"; then
        echo "virtio_test: $name passed"
    else
        echo "virtio_test: FAIL: $name ($(grep "^CHECK $name " "$out" | head -1 || echo 'not reported'))" >&2
        failed=1
    fi
done
if [[ $sandbox_rc -ne 0 ]]; then echo "virtio_test: FAIL: sandbox exit $sandbox_rc" >&2; exit 1; fi
if [[ $failed -ne 0 ]]; then exit 1; fi
echo "virtio_test: PASS (${#expected[@]} checks)"
