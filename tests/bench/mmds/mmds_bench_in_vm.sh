#!/bin/bash
# Runs inside ember-sandbox for mmds_bench.sh. ROUNDS times, alternating: Ember serving the value
# from its MMDS on eth0, and QEMU -M microvm with the same guest reaching a tap-side busybox httpd
# (how a QEMU user serves instance metadata). Prints `RESULT vmm=<name> round=<n> key=value...`.
set -u
rounds=${1:-3}
args="console=ttyS0 panic=1 nomodule i8042.noaux i8042.nomux i8042.dumbkbd swiotlb=noforce quiet"
ip tuntap add tap0 mode tap
ip addr add 172.16.0.1/24 dev tap0
ip link set tap0 up
mkdir -p www/latest/meta-data
printf 'i-0123456789abcdef0' >www/latest/meta-data/instance-id
echo '{"latest": {"meta-data": {"instance-id": "i-0123456789abcdef0"}}}' >metadata.json
busybox httpd -p 172.16.0.1:80 -h www

run() {  # run NAME ROUND COMMAND...
    local name=$1 round=$2; shift 2
    cp rootfs.ext4 root.ext4
    timeout 600 "$@" </dev/null >"console-$name.txt" 2>"log-$name.txt"
    echo "INFO vmm=$name round=$round exit=$?"
    tr -d '\r' <"console-$name.txt" | sed -n "s/^BENCH /RESULT vmm=$name round=$round /p"
    grep -q 'EMBER-TEST-EXIT=0' "console-$name.txt" || { tail -n 30 "console-$name.txt"; tail -n 20 "log-$name.txt"; }
}

cat >vm.json <<JSON
{
  "boot-source": {"kernel_image_path": "bzImage", "boot_args": "$args reboot=k mmds_bench=169.254.169.254:80"},
  "machine-config": {"vcpu_count": 1, "mem_size_mib": 256},
  "drives": [{"drive_id": "rootfs", "path_on_host": "root.ext4", "is_root_device": true}],
  "network-interfaces": [{"iface_id": "eth0", "host_dev_name": "tap0", "guest_mac": "06:00:ac:10:00:02"}],
  "mmds-config": {"network_interfaces": ["eth0"], "version": "V1"}
}
JSON
for round in $(seq 1 "$rounds"); do
    run ember "$round" ember --no-api --config-file vm.json --metadata metadata.json
    run qemu "$round" qemu-system-x86_64 -L /usr/share/qemu -M microvm,acpi=off -accel kvm -cpu host \
        -smp 1 -m 256 -nodefaults -no-user-config -nographic -serial stdio -no-reboot -kernel bzImage \
        -append "$args reboot=t root=/dev/vda rw mmds_bench=172.16.0.1:80" \
        -drive id=root,file=root.ext4,format=raw,if=none -device virtio-blk-device,drive=root \
        -netdev tap,id=net0,ifname=tap0,script=no,downscript=no,vhost=off \
        -device virtio-net-device,netdev=net0,mac=06:00:ac:10:00:02
done
