#!/bin/bash
# A copy of a guest rootfs with the guest function of the snapshot benchmarks and tests in it:
# guestfunc.c built static as /sbin/guestfunc and, when asked, a file of random data for it to read.
# Usage: guestfunc_rootfs.sh ROOTFS OUT_EXT4 [DATA_PATH_IN_GUEST DATA_MIB]
#   e.g. guestfunc_rootfs.sh "$ROOTFS" "$work/rootfs.ext4" /root/data 8
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
usage="usage: guestfunc_rootfs.sh ROOTFS OUT_EXT4 [DATA_PATH_IN_GUEST DATA_MIB]"
src=${1:?$usage} out=${2:?$usage} data_path=${3:-} data_mib=${4:-0}
tmp="$(mktemp -d /tmp/ember-guestfunc.XXXXXX)"
trap 'rm -rf "$tmp"' EXIT

gcc -static -O2 -Wall -Wextra -o "$tmp/guestfunc" "$here/guestfunc.c"
cp "$src" "$out"
printf 'cd /sbin\nwrite %s guestfunc\nsif guestfunc mode 0100755\n' "$tmp/guestfunc" >"$tmp/cmds"
if [[ -n $data_path ]]; then
    head -c $((data_mib << 20)) /dev/urandom >"$tmp/data"
    printf 'cd %s\nwrite %s %s\n' "$(dirname "$data_path")" "$tmp/data" "$(basename "$data_path")" \
        >>"$tmp/cmds"
fi
debugfs -w -f "$tmp/cmds" "$out" >/dev/null 2>&1
# debugfs exits 0 whatever failed: read the files back.
debugfs -R "cat /sbin/guestfunc" "$out" 2>/dev/null | cmp -s - "$tmp/guestfunc" &&
    { [[ -z $data_path ]] || debugfs -R "cat $data_path" "$out" 2>/dev/null | cmp -s - "$tmp/data"; } ||
    { echo "guestfunc_rootfs: could not write guestfunc${data_path:+ and $data_path} into $out" >&2; exit 2; }
