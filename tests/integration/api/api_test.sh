#!/bin/bash
# Drives `ember --api-sock` with `curl --unix-socket` as Firecracker's getting-started guide does
# (logger, metrics, machine-config, boot-source, a root drive, a network interface,
# InstanceStart), then pauses and resumes the guest and ends it with SendCtrlAltDel.
# Runs in resources/sandbox/ember-sandbox; the host's curl is carried in with its libraries.
# Needs the guest images (resources/guest/images.sh --ensure).
# Usage: api_test.sh EMBER_BINARY
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
source "$here/../lib/host.sh"
ember=${1:?usage: api_test.sh EMBER_BINARY}
curl_bin="$(command -v curl)" || { echo "api_test: curl is not installed" >&2; exit 2; }

load_guest_images api_test

choose_sandbox_mode

run_sandbox_test api_test API-TEST-PASS --timeout 600 \
    --bin "$ember" --bin "$curl_bin" \
    --file "$BZIMAGE:bzImage" --file "$ROOTFS:rootfs.ext4.orig" \
    --file "$here/api_in_vm.sh:api_in_vm.sh" --file "$here/../lib/api_client.sh:api_client.sh" \
    -- bash api_in_vm.sh bzImage rootfs.ext4.orig
