#!/bin/bash
# A microVM started through ember-jailer with ember's seccomp filters on, driven over its API:
# the jail is built (uid, gid, cgroup v2, pivot_root), the guest boots from its root drive,
# writes to it and answers pings over a tap, pauses and resumes, and is snapshotted inside the
# jail; a second ember-jailer (another --id) restores the snapshot from copies in its own jail, the
# guest continues, answers pings and shuts down on SendCtrlAltDel. Every thread of both embers
# shows `Seccomp: 2` in /proc/<pid>/task/*/status. Runs in ember-sandbox (see
# resources/sandbox/README.md).
# Usage: jailed_boot_test.sh EMBER EMBER_JAILER
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
source "$here/../lib/host.sh"
ember=$1
jailer=$2

load_guest_images jailed_boot_test
curl_bin="$(command -v curl)" || { echo "jailed_boot_test: curl is not installed" >&2; exit 2; }
choose_sandbox_mode

run_sandbox_test jailed_boot_test JAILED-TEST-PASS --timeout 600 \
    --bin "$ember" --bin "$jailer" --bin "$curl_bin" \
    --file "$BZIMAGE:bzImage" --file "$ROOTFS:rootfs.ext4" \
    --file "$here/jailed_boot_in_vm.sh:jailed_boot_in_vm.sh" \
    --file "$here/../lib/api_client.sh:api_client.sh" \
    -- bash jailed_boot_in_vm.sh
