#!/usr/bin/env bash
# Finds (and with --ensure, builds) the shared guest images without callers knowing cache keys.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

usage() {
    cat <<USAGE
Usage: $(basename "$0") --print-paths | --ensure

Prints the shared guest images on stdout, one per line (suitable for eval):
  VMLINUX=<path>        kernel ELF with a PVH entry note
  BZIMAGE=<path>        the same kernel as a bzImage (Linux boot protocol)
  KERNEL_CONFIG=<path>  its .config
  ROOTFS=<path>         default ext4 root (64M, no test command baked in: pass ember.test="..."
                        on the kernel command line); boot with root=/dev/vda rw
  INITRD=<path>         the same userspace as a gzip'd cpio initrd
These are shared and cached: copy ROOTFS before booting it read-write.

  --print-paths   print them if all are built for the current sources; exit 1 otherwise
  --ensure        build whatever is missing (the kernel takes ~7 min cold), then print them
  -h, --help      this text

Environment: EMBER_CACHE_DIR (default \$HOME/.cache/ember), EMBER_KERNEL_SOURCE.
USAGE
}

mode=""
while (($#)); do
    case "$1" in
        --print-paths) mode=print; shift ;;
        --ensure) mode=ensure; shift ;;
        -h|--help) usage; exit 0 ;;
        *) ember_die "unknown argument $1 (see --help)" ;;
    esac
done
[[ -n "$mode" ]] || { usage >&2; exit 2; }

cache="$(ember_cache_dir)"
# Default images are keyed by everything that goes into them.
userspace_key="$( {
    cat "$EMBER_GUEST_DIR"/{common.sh,init.sh,boot-timer-signal.c,build-rootfs.sh,build-initrd.sh}
    sha256sum "$(readlink -f /bin/busybox)" 2>/dev/null || true
} | sha256sum | cut -c1-16)"
rootfs="$cache/rootfs-$userspace_key.ext4"
initrd="$cache/initrd-$userspace_key.cpio.gz"

if [[ "$mode" == ensure ]]; then
    "$EMBER_GUEST_DIR/build-kernel.sh" >/dev/null
    [[ -s "$rootfs" ]] || "$EMBER_GUEST_DIR/build-rootfs.sh" "$rootfs" --size 64M
    [[ -s "$initrd" ]] || "$EMBER_GUEST_DIR/build-initrd.sh" "$initrd"
fi

kernel_paths="$("$EMBER_GUEST_DIR/build-kernel.sh" --print-paths)" || exit 1
missing=()
[[ -s "$rootfs" ]] || missing+=("$rootfs")
[[ -s "$initrd" ]] || missing+=("$initrd")
if ((${#missing[@]})); then
    ember_note "not built: ${missing[*]} (run $(basename "$0") --ensure)"
    exit 1
fi
echo "$kernel_paths"
echo "ROOTFS=$rootfs"
echo "INITRD=$initrd"
