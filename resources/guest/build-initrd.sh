#!/usr/bin/env bash
# Builds a gzip'd newc cpio initrd for Ember's test guests (same contents as build-rootfs.sh).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

usage() {
    cat <<USAGE
Usage: $(basename "$0") OUT.cpio.gz [--test-cmd 'shell command'] [--add SRC:DEST ...]

Writes a gzip'd newc cpio archive holding busybox-static (with all applet links), the Ember
init (/init and /sbin/init, from init.sh) and /sbin/boot-timer-signal. Boot it with the
initrd option and no root= parameter.

Options:
  --test-cmd CMD     stored as /etc/ember-test; init runs it with /bin/sh and prints
                     EMBER-TEST-EXIT=<status>. ember.test="..." on the kernel command line
                     overrides it at boot.
  --add SRC:DEST     copy host file or folder SRC to absolute guest path DEST (repeatable)
  --size SIZE        accepted for symmetry with build-rootfs.sh and ignored
  -h, --help         this text

Every file is stored as owned by root. The archive is written to a temporary file next to OUT
and renamed into place.
USAGE
}

ember_parse_image_args "$@"
command -v cpio >/dev/null || ember_die "cpio not found (apt-get install cpio)"
command -v gzip >/dev/null || ember_die "gzip not found"

start=$SECONDS
out_dir="$(cd "$(dirname "$EMBER_OUT")" 2>/dev/null && pwd)" || ember_die "folder of $EMBER_OUT does not exist"
work="$(mktemp -d "${TMPDIR:-/tmp}/ember-initrd.XXXXXX")"
tmp_image="$(mktemp "$out_dir/.$(basename "$EMBER_OUT").XXXXXX")"
trap 'rm -rf "$work"; rm -f "$tmp_image"' EXIT

ember_populate_guest_tree "$work/root"
(cd "$work/root" && find . -mindepth 1 | LC_ALL=C sort | cpio --quiet -o -H newc -R 0:0) | gzip -6 -n >"$tmp_image" \
    || ember_die "cpio/gzip failed"
chmod 0644 "$tmp_image"
mv -f "$tmp_image" "$EMBER_OUT"
ember_note "wrote $EMBER_OUT ($(du -h "$EMBER_OUT" | cut -f1)) in $((SECONDS - start)) s"
