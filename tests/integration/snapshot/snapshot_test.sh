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

out="$(mktemp /tmp/ember-snapshot-test.XXXXXX)"
trap 'rm -f "$out"' EXIT
set +e
"$root/resources/sandbox/ember-sandbox" run --timeout 1380 \
    --bin "$ember" --bin "$uffd_handler" --bin "$snapshot_tool" --bin "$curl_bin" \
    --file "$BZIMAGE:bzImage" --file "$ROOTFS:rootfs.ext4.orig" \
    --file "$here/snapshot_in_vm.sh:snapshot_in_vm.sh" \
    --file "$here/count_guest.sh:count_guest.sh" \
    --file "$here/../lib/api_client.sh:api_client.sh" \
    -- bash snapshot_in_vm.sh bzImage rootfs.ext4.orig count_guest.sh >"$out"
rc=$?
set -e
cat "$out"
if [[ $rc -ne 0 ]] || ! grep -q '^SNAPSHOT-TEST-PASS$' "$out"; then
    echo "snapshot_test: FAIL (sandbox exit $rc)" >&2
    exit 1
fi
echo "snapshot_test: PASS"
