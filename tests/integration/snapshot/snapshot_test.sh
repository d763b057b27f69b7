#!/bin/bash
# Snapshot and restore of a real guest over the API, in one ember-sandbox run (see
# snapshot_in_vm.sh for the checks): Full snapshots restored with the File and Uffd backends and
# network_overrides, a Diff merged onto its base, two VMs from one snapshot, and refused bad loads.
# Needs the guest images (resources/guest/images.sh --ensure).
# Usage: snapshot_test.sh EMBER EMBER_UFFD_HANDLER EMBER_SNAPSHOT
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
source "$here/../lib/host.sh"
usage="usage: snapshot_test.sh EMBER EMBER_UFFD_HANDLER EMBER_SNAPSHOT"
ember=${1:?$usage}
uffd_handler=${2:?$usage}
snapshot_tool=${3:?$usage}
curl_bin="$(command -v curl)" || { echo "snapshot_test: curl is not installed" >&2; exit 2; }

load_guest_images snapshot_test

choose_sandbox_mode

run_sandbox_test snapshot_test SNAPSHOT-TEST-PASS --timeout 1380 \
    --bin "$ember" --bin "$uffd_handler" --bin "$snapshot_tool" --bin "$curl_bin" \
    --file "$BZIMAGE:bzImage" --file "$ROOTFS:rootfs.ext4.orig" \
    --file "$here/snapshot_in_vm.sh:snapshot_in_vm.sh" \
    --file "$here/count_guest.sh:count_guest.sh" \
    --file "$here/../lib/api_client.sh:api_client.sh" \
    -- bash snapshot_in_vm.sh bzImage rootfs.ext4.orig count_guest.sh
