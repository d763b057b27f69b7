#!/bin/bash
# ember-uffd-handler's working-set record with real guests, in one ember-sandbox run (see
# working_set_in_vm.sh for the checks): a guest running tests/bench/snapshot/guestfunc.c is
# snapshotted twice (A at "FUNC READY", B after one request); a load of A with --record answers a
# request and leaves the record; a load of A with --prefetch installs it, continues the function
# and answers alike; the record offered with B's memory file is refused with its clear error,
# the handler exits non-zero and ember's load of B fails at once (400, exit 1) instead of hanging.
# Usage: working_set_test.sh EMBER EMBER_UFFD_HANDLER
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
source "$here/../lib/host.sh"
usage="usage: working_set_test.sh EMBER EMBER_UFFD_HANDLER"
ember=${1:?$usage}
uffd_handler=${2:?$usage}
curl_bin="$(command -v curl)" || { echo "working_set_test: curl is not installed" >&2; exit 2; }

load_guest_images working_set_test

work="$(mktemp -d /tmp/ember-working-set-test.XXXXXX)"
trap 'rm -rf "$work"' EXIT
# The function and its data in a copy of the rootfs: /sbin/guestfunc and /root/data (2 MiB).
"$root/tests/bench/snapshot/guestfunc_rootfs.sh" "$ROOTFS" "$work/rootfs.ext4" /root/data 2

choose_sandbox_mode

run_sandbox_test working_set_test WORKING-SET-TEST-PASS --timeout 900 \
    --bin "$ember" --bin "$uffd_handler" --bin "$curl_bin" \
    --file "$BZIMAGE:bzImage" --file "$work/rootfs.ext4:rootfs.ext4" \
    --file "$here/working_set_in_vm.sh:working_set_in_vm.sh" \
    --file "$here/../lib/api_client.sh:api_client.sh" \
    -- bash working_set_in_vm.sh
