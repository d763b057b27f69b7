#!/bin/bash
# Hostile API requests while a guest runs, with ember's built-in seccomp filters: every request
# gets an answer, ember never exits, the guest keeps running (hostile_in_vm.sh).
# Runs in resources/sandbox/ember-sandbox; the host's curl is carried in with its libraries.
# Needs the guest images (resources/guest/images.sh --ensure).
# Usage: hostile_api_test.sh EMBER_BINARY HOSTILE_API_CLIENT_BINARY
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
source "$here/../lib/host.sh"
ember=${1:?usage: hostile_api_test.sh EMBER_BINARY HOSTILE_API_CLIENT_BINARY}
client=${2:?usage: hostile_api_test.sh EMBER_BINARY HOSTILE_API_CLIENT_BINARY}
curl_bin="$(command -v curl)" || { echo "hostile_api_test: curl is not installed" >&2; exit 2; }

load_guest_images hostile_api_test

choose_sandbox_mode

run_sandbox_test hostile_api_test HOSTILE-API-PASS --timeout 600 \
    --bin "$ember" --bin "$client" --bin "$curl_bin" \
    --file "$BZIMAGE:bzImage" --file "$ROOTFS:rootfs.ext4.orig" \
    --file "$here/hostile_in_vm.sh:hostile_in_vm.sh" \
    --file "$here/../lib/api_client.sh:api_client.sh" \
    -- bash hostile_in_vm.sh bzImage rootfs.ext4.orig
