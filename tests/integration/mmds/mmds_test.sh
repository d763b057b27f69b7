#!/bin/bash
# MMDS in real guests: builds a copy of the shared ext4 rootfs with mmds_guest.sh as
# /etc/ember-test and guestbench as /sbin/guestbench, then runs mmds_in_vm.sh through
# resources/sandbox/ember-sandbox (one outer VM boot, two guests). Passes when every expected
# `CHECK <name> PASS` line is printed:
#   v1_text, v1_listing, v1_json      a value PUT over the API before boot, read by guestbench http
#                                     as text, as an IMDS listing and as JSON (Accept header)
#   rss_flat_1000                     1,000 sequential guest requests grow ember's VmRSS < 1 MiB
#   mmds_during_bulk_tcp              50 MMDS requests and a 64 MiB TCP transfer on the same
#                                     interface both complete
#   v2_token, v2_get_with_token,      a session token from a raw PUT /latest/api/token (nc), a
#   v2_get_without_token_401,         GET with it, 401 without it and with a wrong one
#   v2_get_bad_token_401, v2_metrics  (metrics: the "mmds" group counts the refused GETs)
# Usage: mmds_test.sh --ember PATH [--timeout S]
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
source "$here/../lib/host.sh"
ember="" timeout_s=2400
while (($#)); do
    case "$1" in
        --ember) ember=$2; shift 2 ;;
        --timeout) timeout_s=$2; shift 2 ;;
        *) echo "mmds_test: unknown argument $1" >&2; exit 2 ;;
    esac
done
[[ -n "$ember" && -x "$ember" ]] || { echo "mmds_test: --ember must name the built binary" >&2; exit 2; }
curl_bin="$(command -v curl)" || { echo "mmds_test: curl is not installed" >&2; exit 2; }
expected=(v1_text v1_listing v1_json rss_flat_1000 mmds_during_bulk_tcp
          v2_token v2_get_with_token v2_get_without_token_401 v2_get_bad_token_401 v2_metrics)

load_guest_images mmds_test

work="$(mktemp -d /tmp/ember-mmds-test.XXXXXX)"
trap 'rm -rf "$work"' EXIT
cp "$ROOTFS" "$work/rootfs.ext4"
gcc -static -O2 -o "$work/guestbench" "$root/tests/bench/virtio/guestbench.c"
printf 'cd /etc\nwrite %s ember-test\ncd /sbin\nwrite %s guestbench\nsif guestbench mode 0100755\n' \
    "$here/mmds_guest.sh" "$work/guestbench" >"$work/debugfs.cmds"
debugfs -w -f "$work/debugfs.cmds" "$work/rootfs.ext4" >/dev/null 2>&1
debugfs -R "cat /etc/ember-test" "$work/rootfs.ext4" 2>/dev/null | cmp -s - "$here/mmds_guest.sh" || {
    echo "mmds_test: could not install the guest script into the rootfs copy" >&2
    exit 2
}

choose_sandbox_mode

out="$work/out.txt"
set +e
sandbox_run_rerun mmds_test "$out" --timeout "$timeout_s" --mem 3072 \
    --bin "$ember" --bin "$curl_bin" --file "$BZIMAGE:bzImage" --file "$work/rootfs.ext4:rootfs.ext4" \
    --file "$here/mmds_in_vm.sh:run.sh" --file "$here/../lib/api_client.sh:api_client.sh" \
    -- bash run.sh
sandbox_rc=$?
set -e
cat "$out"

failed=0
for name in "${expected[@]}"; do
    if grep -q "^CHECK $name PASS" "$out"; then
        echo "mmds_test: $name passed"
    else
        echo "mmds_test: FAIL: $name ($(grep "^CHECK $name " "$out" | head -1 || echo 'not reported'))" >&2
        failed=1
    fi
done
if [[ $sandbox_rc -ne 0 ]]; then echo "mmds_test: FAIL: sandbox exit $sandbox_rc" >&2; exit 1; fi
if [[ $failed -ne 0 ]]; then exit 1; fi
echo "mmds_test: PASS (${#expected[@]} checks)"
