#!/usr/bin/env bash
# The README's first command: installs dependencies, builds Ember, builds (or reuses) the cached
# guest images, and boots the demo microVM with its console on this terminal: an ext4 root on
# virtio-block and a virtio-net interface on a tap (172.30.0.2 in the guest, 172.30.0.1 on the
# host side). The guest runs its init, prints EMBER-GUEST-INIT-OK, signals the boot timer, brings
# up eth0 and pings the host, then reboots, which ends ember with exit code 0. Where /dev/kvm is
# missing (or is not hardware KVM), the boot runs in ember-sandbox.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

./resources/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DEMBER_WERROR=OFF >/dev/null
cmake --build build -j "$(nproc)"
eval "$(./resources/guest/images.sh --ensure)"

work="$(mktemp -d /tmp/ember-demo.XXXXXX)"
trap 'rm -rf "$work"' EXIT
cp "$ROOTFS" "$work/rootfs.ext4"  # Shared and cached: the guest mounts its copy read-write.
cat >"$work/vm.json" <<'JSON'
{
  "boot-source": {
    "kernel_image_path": "bzImage",
    "boot_args": "console=ttyS0 reboot=k panic=1 nomodule i8042.noaux i8042.nomux i8042.dumbkbd ember.test=\"uname -a; ip addr add 172.30.0.2/24 dev eth0; ip link set eth0 up; ping -c 3 172.30.0.1\""
  },
  "machine-config": { "vcpu_count": 2, "mem_size_mib": 256 },
  "drives": [
    { "drive_id": "rootfs", "path_on_host": "rootfs.ext4", "is_root_device": true, "is_read_only": false }
  ],
  "network-interfaces": [
    { "iface_id": "eth0", "host_dev_name": "emberdemo0", "guest_mac": "06:00:ac:1e:00:02" }
  ]
}
JSON
# The tap exists only while the microVM runs.
cat >"$work/demo.sh" <<'SH'
ip tuntap add emberdemo0 mode tap || exit 1
ip addr add 172.30.0.1/24 dev emberdemo0 && ip link set emberdemo0 up
ember --no-api --boot-timer --config-file vm.json
rc=$?
ip link del emberdemo0
exit $rc
SH
echo "demo: booting $(basename "$BZIMAGE") with 2 vCPUs and 256 MiB from an ext4 root on virtio-block," \
     "with eth0 on tap emberdemo0; the guest console follows" >&2
./resources/sandbox/ember-sandbox run --timeout 600 --bin build/ember \
    --file "$BZIMAGE:bzImage" --file "$work/rootfs.ext4:rootfs.ext4" --file "$work/vm.json:vm.json" \
    --file "$work/demo.sh:demo.sh" -- sh demo.sh
echo "demo: ember exited 0 after the guest rebooted" >&2
