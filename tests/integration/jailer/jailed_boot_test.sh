#!/bin/bash
# A microVM started through ember-jailer, with ember's seccomp filters on: the jail is built (uid,
# gid, cgroup v2, pivot_root), the guest boots to its init, every ember thread shows
# `Seccomp: 2` in /proc/<pid>/task/*/status while the guest runs, and ember exits 0 when the
# guest reboots. Runs in ember-sandbox (see resources/sandbox/README.md).
# Usage: jailed_boot_test.sh EMBER EMBER_JAILER
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
ember=$1
jailer=$2

eval "$("$root/resources/guest/images.sh" --print-paths)" || {
    echo "jailed_boot_test: guest images not built: run resources/guest/images.sh --ensure" >&2
    exit 2
}
if [[ -z "${EMBER_SANDBOX:-}" && ! -d /sys/module/kvm_intel && ! -d /sys/module/kvm_amd ]]; then
    export EMBER_SANDBOX=qemu  # kvm_pvm cannot run a stock guest kernel.
fi

work="$(mktemp -d /tmp/ember-jailed-test.XXXXXX)"
trap 'rm -rf "$work"' EXIT
cat >"$work/vm.json" <<'JSON'
{
  "boot-source": {
    "kernel_image_path": "bzImage",
    "initrd_path": "initrd",
    "boot_args": "console=ttyS0 reboot=k panic=1 nomodule i8042.noaux i8042.nomux i8042.dumbkbd quiet ember.test=\"sleep 4\""
  },
  "machine-config": { "vcpu_count": 2, "mem_size_mib": 128 }
}
JSON
set +e
"$root/resources/sandbox/ember-sandbox" run --timeout 400 \
    --bin "$ember" --bin "$jailer" --file "$BZIMAGE:bzImage" --file "$INITRD:initrd" \
    --file "$work/vm.json:vm.json" --file "$here/jailed_boot_in_vm.sh:jailed_boot_in_vm.sh" \
    -- sh jailed_boot_in_vm.sh
rc=$?
set -e
if [[ $rc -ne 0 ]]; then echo "jailed_boot_test: FAIL (exit $rc)" >&2; exit 1; fi
echo "jailed_boot_test: PASS"
