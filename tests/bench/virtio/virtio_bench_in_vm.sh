#!/bin/bash
# Runs inside ember-sandbox for virtio_bench.sh: the same guest kernel, rootfs and data image under
# Ember (Sync, then Async engine) and QEMU -M microvm (virtio-blk-device with aio=io_uring for the
# data drive, virtio-net-device on a tap, no vhost), ROUNDS rounds, the three in turn in each.
# Prints the guest's `BENCH key=value` lines prefixed with `RESULT vmm=<name> round=<n>`, and the
# VMM process's CPU time for the whole run as `CPU vmm=<name> round=<n> user_s=.. sys_s=..`.
# Usage: virtio_bench_in_vm.sh [ROUNDS]
set -u
rounds=${1:-5}
args="console=ttyS0 panic=1 nomodule i8042.noaux i8042.nomux i8042.dumbkbd swiotlb=noforce quiet"
ip tuntap add tap0 mode tap
ip addr add 172.16.0.1/24 dev tap0
ip link set tap0 up
mkfifo hold
exec 3<>hold

run() {  # run NAME COMMAND...: one guest with a fresh root copy and data image
    local name=$1; shift
    cp rootfs.ext4 root.ext4
    head -c 268435456 /dev/zero >data.img  # allocated, so no VMM reads holes
    nc -l -p 5001 <&3 >/dev/null &
    local nc_pid=$! rc
    # bash's `time` reports the CPU of the VMM (the child of timeout) once it has ended.
    local TIMEFORMAT='%U %S' cpu
    cpu=$({ time timeout 600 "$@" </dev/null >"console-$name.txt" 2>"log-$name.txt"; } 2>&1)
    rc=$?
    echo "INFO vmm=$name round=$round exit=$rc"
    kill $nc_pid 2>/dev/null
    tr -d '\r' <"console-$name.txt" | sed -n "s/^BENCH /RESULT vmm=$name round=$round /p"
    echo "CPU vmm=$name round=$round user_s=${cpu% *} sys_s=${cpu#* }"
    grep -q 'EMBER-TEST-EXIT=0' "console-$name.txt" || { tail -n 30 "console-$name.txt"; cat "log-$name.txt"; }
}

for engine in Sync Async; do
    cat >"vm-$engine.json" <<JSON
{
  "boot-source": {"kernel_image_path": "bzImage", "boot_args": "$args reboot=k"},
  "machine-config": {"vcpu_count": 1, "mem_size_mib": 256},
  "drives": [
    {"drive_id": "rootfs", "path_on_host": "root.ext4", "is_root_device": true, "io_engine": "$engine"},
    {"drive_id": "data", "path_on_host": "data.img", "is_root_device": false, "io_engine": "$engine"}
  ],
  "network-interfaces": [{"iface_id": "eth0", "host_dev_name": "tap0", "guest_mac": "06:00:ac:10:00:02"}]
}
JSON
done
for round in $(seq 1 "$rounds"); do
    for engine in Sync Async; do
        run "ember-${engine,,}" ember --no-api --config-file "vm-$engine.json"
    done
    # microvm has no i8042: reboot=t. QEMU's default cache mode (writeback, host page cache)
    # matches Ember's, which also goes through the host page cache; its data drive on io_uring.
    run qemu qemu-system-x86_64 -L /usr/share/qemu -M microvm,acpi=off -accel kvm -cpu host -smp 1 \
        -m 256 -nodefaults -no-user-config -nographic -serial stdio -no-reboot -kernel bzImage \
        -append "$args reboot=t root=/dev/vda rw" \
        -drive id=root,file=root.ext4,format=raw,if=none -device virtio-blk-device,drive=root \
        -drive id=data,file=data.img,format=raw,if=none,aio=io_uring \
        -device virtio-blk-device,drive=data \
        -netdev tap,id=net0,ifname=tap0,script=no,downscript=no,vhost=off \
        -device virtio-net-device,netdev=net0,mac=06:00:ac:10:00:02
done
