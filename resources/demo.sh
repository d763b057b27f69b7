#!/usr/bin/env bash
# The README's first command: installs dependencies, builds Ember, builds (or reuses) the cached
# guest images, and boots the demo microVM with its console on this terminal. The guest runs its
# init, prints EMBER-GUEST-INIT-OK, signals the boot timer and reboots, which ends ember with exit
# code 0. Where /dev/kvm is missing (or is not hardware KVM), the boot runs in ember-sandbox.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

./resources/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "$(nproc)"
eval "$(./resources/guest/images.sh --ensure)"

work="$(mktemp -d /tmp/ember-demo.XXXXXX)"
trap 'rm -rf "$work"' EXIT
cat >"$work/vm.json" <<'JSON'
{
  "boot-source": {
    "kernel_image_path": "bzImage",
    "initrd_path": "initrd.cpio.gz",
    "boot_args": "console=ttyS0 reboot=k panic=1 nomodule i8042.noaux i8042.nomux i8042.dumbkbd ember.test=uname"
  },
  "machine-config": { "vcpu_count": 2, "mem_size_mib": 256 }
}
JSON
echo "demo: booting $(basename "$BZIMAGE") with 2 vCPUs and 256 MiB; the guest console follows" >&2
./resources/sandbox/ember-sandbox run --timeout 600 --bin build/ember \
    --file "$BZIMAGE:bzImage" --file "$INITRD:initrd.cpio.gz" --file "$work/vm.json:vm.json" \
    -- ember --no-api --boot-timer --config-file vm.json
echo "demo: ember exited 0 after the guest rebooted" >&2
