#!/bin/bash
# Runs inside ember-sandbox; see jailed_boot_test.sh. Prints one "ok:" line per check and
# JAILED-TEST-PASS at the end; exits non-zero on the first failure.
#
# The sandbox's root is the initramfs, on which pivot_root(2) is impossible (EINVAL), so the test
# first moves into a bind mount of it, as a host with a real root file system would be.
set -u
ember_pid=""
fail() { fail_and_show "$*" 40 jail.log console.txt jail2.log console2.txt; }

if [[ -z "${EMBER_IN_BIND_ROOT:-}" ]]; then
    mkdir -p /sys/fs/cgroup
    grep -q " /sys/fs/cgroup cgroup2 " /proc/mounts ||
        mount -t cgroup2 cgroup2 /sys/fs/cgroup || fail "mount cgroup2"
    mkdir -p /bindroot
    mount --rbind / /bindroot || fail "bind mount /"
    exec env EMBER_IN_BIND_ROOT=1 chroot /bindroot /bin/bash -c "cd '$PWD' && exec bash '$0'"
fi

id=jailed-vm-1
jail=/srv/jailer/ember/$id/root
sock=$jail/api.sock
source "$(dirname "$0")/api_client.sh"

mkdir -p "$jail"
cp bzImage rootfs.ext4 "$jail/"
chown -R 1234:1234 "$jail"
ip tuntap add dev tap0 mode tap || fail "cannot create tap0"
ip addr add 172.16.0.1/24 dev tap0
ip link set tap0 up

ember-jailer --id "$id" --exec-file "$PWD/bin/ember" --uid 1234 --gid 1234 \
    --cgroup-version 2 --cgroup pids.max=64 --resource-limit no-file=1024 \
    -- --api-sock /api.sock --level Info >console.txt 2>jail.log </dev/null &
ember_pid=$!  # The jailer execs ember in place: the same pid.
wait_for 10 test -S "$sock" || fail "the jailed API socket never appeared"
ok "the jailed API socket accepts"

boot_args='console=ttyS0 reboot=k panic=1 nomodule i8042.noaux i8042.nomux i8042.dumbkbd quiet'
guest='ip addr add 172.16.0.2/24 dev eth0; ip link set eth0 up; echo written-in-jail >/jail-marker; sync; while true; do cat /proc/uptime; sleep 1; done'
expect 204 PUT /machine-config '{"vcpu_count": 2, "mem_size_mib": 256}'
expect 204 PUT /boot-source \
    "{\"kernel_image_path\": \"bzImage\", \"boot_args\": \"$boot_args ember.test=\\\"$guest\\\"\"}"
expect 204 PUT /drives/rootfs \
    '{"drive_id": "rootfs", "path_on_host": "rootfs.ext4", "is_root_device": true, "is_read_only": false}'
expect 204 PUT /network-interfaces/eth0 \
    '{"iface_id": "eth0", "guest_mac": "06:00:ac:10:00:02", "host_dev_name": "tap0"}'
expect 204 PUT /actions '{"action_type": "InstanceStart"}'

wait_for 240 has_lines 2 || fail "the guest never reached its loop"
ok "the guest booted from its root drive in the jail"

# check_seccomp: every thread of $ember_pid (the vmm, API and 2 vCPU threads at least) runs under
# its seccomp filter.
check_seccomp() {
    local threads=0 status name mode
    for status in /proc/$ember_pid/task/*/status; do
        name=$(sed -n 's/^Name:\t//p' "$status")
        mode=$(sed -n 's/^Seccomp:\t//p' "$status")
        [[ "$mode" == 2 ]] || fail "thread '$name' has Seccomp: $mode"
        echo "thread '$name': Seccomp: $mode"
        threads=$((threads + 1))
    done
    ((threads >= 4)) || fail "expected the vmm, API and 2 vCPU threads, saw $threads"
    ok "all $threads ember threads run under their seccomp filter"
}
check_seccomp
uid=$(sed -n 's/^Uid:\t\([0-9]*\).*/\1/p' /proc/$ember_pid/status)
[[ "$uid" == 1234 ]] || fail "ember runs as uid $uid"
cgroup=$(cat /proc/$ember_pid/cgroup)
[[ "$cgroup" == *"/ember/$id"* ]] || fail "ember is not in its cgroup: $cgroup"
exe=$(readlink /proc/$ember_pid/exe)
[[ "$exe" != "$PWD/bin/ember" ]] || fail "ember runs from outside its jail"
ok "ember runs as uid 1234 in cgroup ${cgroup#0::}"

ping -c 3 -W 5 172.16.0.2 >ping.txt 2>&1 || { cat ping.txt; fail "the guest does not answer pings"; }
ok "the guest answers pings over tap0: $(grep -o '[0-9]* packets received' ping.txt)"

expect 204 PATCH /vm '{"state": "Paused"}'
paused_lines=$(console_lines)
sleep 3
[[ "$(console_lines)" == "$paused_lines" ]] || fail "the guest printed while paused"
expect 204 PATCH /vm '{"state": "Resumed"}'
wait_for 60 has_lines $((paused_lines + 2)) || fail "the guest did not continue after Resumed"
ok "pause and resume work under seccomp"

# Snapshot in the jail (paths are the jail's), then end this ember: the disk stays as the
# snapshot saw it.
expect 204 PATCH /vm '{"state": "Paused"}'
last_up=$(grep '^[0-9][0-9]*\.[0-9]* ' console.txt | tail -n 1 | cut -d' ' -f1)
expect 204 PUT /snapshot/create \
    '{"snapshot_type": "Full", "snapshot_path": "/vm.state", "mem_file_path": "/vm.mem"}'
[[ -s $jail/vm.state && -s $jail/vm.mem ]] || fail "no snapshot files in the jail"
ok "Full snapshot inside the jail: $(stat -c %s "$jail/vm.state") B of state," \
    "$(stat -c %s "$jail/vm.mem") B of memory"
kill -9 "$ember_pid"
wait "$ember_pid" 2>/dev/null
ember_pid=""
marker=$(debugfs -R "cat /jail-marker" "$jail/rootfs.ext4" 2>/dev/null)
[[ "$marker" == written-in-jail ]] || fail "the guest's write is not on the disk: '$marker'"
ok "the guest's write reached the jailed drive file"

# Restore in a second jail from copies of the snapshot and the disk.
id2=jailed-vm-2
jail2=/srv/jailer/ember/$id2/root
mkdir -p "$jail2"
cp "$jail/vm.state" "$jail/vm.mem" "$jail/rootfs.ext4" "$jail2/"
chown -R 1234:1234 "$jail2"
sock=$jail2/api.sock
ember-jailer --id "$id2" --exec-file "$PWD/bin/ember" --uid 1234 --gid 1234 \
    --cgroup-version 2 --cgroup pids.max=64 --resource-limit no-file=1024 \
    -- --api-sock /api.sock --level Info >console2.txt 2>jail2.log </dev/null &
ember_pid=$!
wait_for 10 test -S "$sock" || fail "the second jail's API socket never appeared"
expect 204 PUT /snapshot/load '{"snapshot_path": "/vm.state",
    "mem_backend": {"backend_type": "File", "backend_path": "/vm.mem"}, "resume_vm": true}'
restored_lines() { grep -c '^[0-9][0-9]*\.[0-9]* ' console2.txt 2>/dev/null || true; }
restored_has() { (($(restored_lines) >= $1)); }
wait_for 120 restored_has 2 || fail "the restored guest prints nothing"
first_up=$(grep '^[0-9][0-9]*\.[0-9]* ' console2.txt | head -n 1 | cut -d' ' -f1)
awk -v a="$first_up" -v b="$last_up" 'BEGIN {exit !(a >= b)}' ||
    fail "uptime $first_up after the restore is below $last_up before it: the guest rebooted"
grep -q EMBER-GUEST-INIT-OK console2.txt && fail "the restored guest booted again"
ok "the guest continues in the second jail: uptime $last_up before the snapshot, $first_up after"
check_seccomp
[[ "$(cat /proc/$ember_pid/cgroup)" == *"/ember/$id2"* ]] ||
    fail "the restored ember is not in its cgroup"
ping -c 3 -W 5 172.16.0.2 >ping.txt 2>&1 ||
    { cat ping.txt; fail "the restored guest does not answer pings"; }
ok "the restored guest answers pings over tap0: $(grep -o '[0-9]* packets received' ping.txt)"

expect 204 PUT /actions '{"action_type": "SendCtrlAltDel"}'
wait "$ember_pid"
rc=$?
ember_pid=""
((rc != 148)) || fail "the restored ember was killed by its seccomp filter (exit 148)"
[[ $rc == 0 ]] || fail "the restored ember exited $rc after SendCtrlAltDel"
ok "the restored ember exited 0 after SendCtrlAltDel"
echo JAILED-TEST-PASS
