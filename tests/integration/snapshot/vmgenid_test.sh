#!/bin/bash
# Clone uniqueness through the VM generation ID, in one ember-sandbox run (vmgenid_in_vm.sh does
# the checks): Debian's stock kernel (CONFIG_ACPI, CONFIG_VMGENID; Ember's own guest kernel has no
# ACPI) boots from the shared initrd with vmgenid_guest.sh as its test program, is snapshotted,
# and two clones restored from that one snapshot must each log the kernel's vmfork reseed and
# read different /dev/urandom bytes.
# Usage: vmgenid_test.sh EMBER
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
source "$here/../lib/host.sh"
ember=${1:?usage: vmgenid_test.sh EMBER}
curl_bin="$(command -v curl)" || { echo "vmgenid_test: curl is not installed" >&2; exit 2; }
command -v cpio >/dev/null || { echo "vmgenid_test: cpio is not installed" >&2; exit 2; }

eval "$("$root/resources/guest/fetch-debian-kernel.sh")"
load_guest_images vmgenid_test

work="$(mktemp -d /tmp/ember-vmgenid-test.XXXXXX)"
trap 'rm -rf "$work"' EXIT
# The guest program as /etc/ember-test, in a second archive after the shared initrd: the kernel
# unpacks concatenated archives in order.
mkdir -p "$work/extra/etc"
cp "$here/vmgenid_guest.sh" "$work/extra/etc/ember-test"
(cd "$work/extra" && find . -mindepth 1 | LC_ALL=C sort | cpio --quiet -o -H newc -R 0:0) |
    gzip -n >"$work/extra.cpio.gz"
cat "$INITRD" "$work/extra.cpio.gz" >"$work/initrd"

choose_sandbox_mode

run_sandbox_test vmgenid_test VMGENID-TEST-PASS --timeout 1500 --mem 3072 \
    --bin "$ember" --bin "$curl_bin" \
    --file "$VMLINUZ:vmlinuz" --file "$work/initrd:initrd" \
    --file "$here/vmgenid_in_vm.sh:vmgenid_in_vm.sh" \
    --file "$here/../lib/api_client.sh:api_client.sh" \
    -- bash vmgenid_in_vm.sh vmlinuz initrd
