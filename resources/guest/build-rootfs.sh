#!/usr/bin/env bash
# Builds an ext4 root filesystem image for Ember's test guests, without root rights or loop
# devices (mke2fs -d).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

usage() {
    cat <<USAGE
Usage: $(basename "$0") OUT.ext4 [--size 64M] [--test-cmd 'shell command'] [--add SRC:DEST ...]

Writes an ext4 image holding busybox-static (with all applet links), the Ember init
(/sbin/init, from init.sh) and /sbin/boot-timer-signal. Boot it with root=/dev/vda rw.

Options:
  --size SIZE        image size as mke2fs takes it (default 64M)
  --test-cmd CMD     stored as /etc/ember-test; init runs it with /bin/sh and prints
                     EMBER-TEST-EXIT=<status>. ember.test="..." on the kernel command line
                     overrides it at boot.
  --add SRC:DEST     copy host file or folder SRC to absolute guest path DEST (repeatable)
  -h, --help         this text

The image is written to a temporary file next to OUT and renamed into place.
USAGE
}

ember_parse_image_args "$@"
size="${EMBER_SIZE:-64M}"
command -v mke2fs >/dev/null || ember_die "mke2fs not found (apt-get install e2fsprogs)"

start=$SECONDS
out_dir="$(cd "$(dirname "$EMBER_OUT")" 2>/dev/null && pwd)" || ember_die "folder of $EMBER_OUT does not exist"
work="$(mktemp -d "${TMPDIR:-/tmp}/ember-rootfs.XXXXXX")"
tmp_image="$(mktemp "$out_dir/.$(basename "$EMBER_OUT").XXXXXX")"
trap 'rm -rf "$work"; rm -f "$tmp_image"' EXIT

ember_populate_guest_tree "$work/root"
mke2fs -q -F -t ext4 -L ember-root -E root_owner=0:0 -d "$work/root" "$tmp_image" "$size" \
    || ember_die "mke2fs failed (is --size $size big enough for $(du -sh "$work/root" | cut -f1) of files?)"
chmod 0644 "$tmp_image"
mv -f "$tmp_image" "$EMBER_OUT"
ember_note "wrote $EMBER_OUT ($size, $(du -sh "$work/root" | cut -f1) of files) in $((SECONDS - start)) s"
