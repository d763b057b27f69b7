#!/bin/bash
# Clones of one snapshot, in one ember-sandbox run (see clones_in_vm.sh for the checks): four new
# ember processes load one snapshot of a guest with a root drive, a scratch drive and a network
# interface, three of them with their own tap (network_overrides), their own scratch drive
# (drive_overrides) and clock_realtime, each with its own API socket, log and metrics file; each
# continues the snapshot's count, reads its own drive, answers on its own tap and has the host's
# wall clock (or, loaded without clock_realtime, lags by the wait). Bad drive overrides are
# refused. Needs the guest images (resources/guest/images.sh --ensure).
# Usage: clones_test.sh EMBER [WAIT_S]
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
source "$here/../lib/host.sh"
ember=${1:?usage: clones_test.sh EMBER [WAIT_S]}
wait_s=${2:-20}
curl_bin="$(command -v curl)" || { echo "clones_test: curl is not installed" >&2; exit 2; }

load_guest_images clones_test

choose_sandbox_mode

run_sandbox_test clones_test CLONES-TEST-PASS --timeout 900 --mem 3072 \
    --bin "$ember" --bin "$curl_bin" \
    --file "$BZIMAGE:bzImage" --file "$ROOTFS:rootfs.ext4.orig" \
    --file "$here/clones_in_vm.sh:clones_in_vm.sh" \
    --file "$here/clones_guest.sh:clones_guest.sh" \
    --file "$here/../lib/api_client.sh:api_client.sh" \
    -- bash clones_in_vm.sh bzImage rootfs.ext4.orig clones_guest.sh "$wait_s"
