#!/bin/bash
# Snapshot and restore of a real guest over the API, in one ember-sandbox run (see
# snapshot_in_vm.sh for the checks): Full snapshots restored with the File and Uffd backends and
# network_overrides, a Diff merged onto its base, two VMs from one snapshot, and refused bad loads
# (PART restore); or a guest on 2 MiB hugetlb pages snapshotted and restored with Uffd (PART
# huge-pages). Needs the guest images (resources/guest/images.sh --ensure).
# Usage: snapshot_test.sh EMBER EMBER_UFFD_HANDLER EMBER_SNAPSHOT restore|huge-pages
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
source "$here/../lib/host.sh"
usage="usage: snapshot_test.sh EMBER EMBER_UFFD_HANDLER EMBER_SNAPSHOT restore|huge-pages"
ember=${1:?$usage}
uffd_handler=${2:?$usage}
snapshot_tool=${3:?$usage}
part=${4:?$usage}
case $part in
    restore) timeout_s=1380 ;;
    huge-pages) timeout_s=600 ;;
    *) echo "$usage" >&2; exit 2 ;;
esac
curl_bin="$(command -v curl)" || { echo "snapshot_test: curl is not installed" >&2; exit 2; }

load_guest_images snapshot_test

choose_sandbox_mode

run_sandbox_test "snapshot_test-$part" SNAPSHOT-TEST-PASS --timeout "$timeout_s" \
    --bin "$ember" --bin "$uffd_handler" --bin "$snapshot_tool" --bin "$curl_bin" \
    --file "$BZIMAGE:bzImage" --file "$ROOTFS:rootfs.ext4.orig" \
    --file "$here/snapshot_in_vm.sh:snapshot_in_vm.sh" \
    --file "$here/count_guest.sh:count_guest.sh" \
    --file "$here/../lib/api_client.sh:api_client.sh" \
    -- bash snapshot_in_vm.sh bzImage rootfs.ext4.orig count_guest.sh "$part"
