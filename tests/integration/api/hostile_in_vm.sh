#!/bin/bash
# Runs inside ember-sandbox: ember with its built-in seccomp filters boots a guest through the API;
# large values go through the vmm thread before and after InstanceStart; then, while the guest
# runs, hostile_api_client sends the hostile requests of the hardening issue and seeded random
# ones. Ember must answer each, never exit, and the guest must keep printing. Prints one "ok:" or
# "FAIL:" line per check and exits non-zero on the first failure.
# Usage: hostile_in_vm.sh KERNEL ROOTFS
set -u
kernel=$1
rootfs=$2
sock=$PWD/api.sock
ember_pid=""

fail() { fail_and_show "$*" 20 console.txt ember.log; }
source "$(dirname "$0")/api_client.sh"
ember_alive() {
    ember_exited && fail "ember exited during: $1 ($(grep -h 'bad syscall' ember.log | head -n 1))"
    ok "ember still runs after: $1"
}
# answered METHOD PATH BODY: any HTTP answer at all (curl fails on none).
answered() {
    api "$1" "$2" "$3"
    ok "$1 $2 (${#3}-byte body) -> $status ${body:0:100}"
}

cp "$rootfs" rootfs.ext4  # Booted read-write: a private copy.
truncate -s 8M scratch.img
big=$(head -c 40000 /dev/zero | tr '\0' a)

ember --api-sock "$sock" --level Info </dev/null >console.txt 2>ember.log &
ember_pid=$!
wait_for 10 test -S "$sock" || fail "the API socket never appeared"

# Before boot: large values, converted and checked on the vmm thread (not yet filtered).
answered PUT /machine-config "{\"vcpu_count\": 2, \"mem_size_mib\": 256, \"x\": \"$big\"}"
answered PUT /boot-source "{\"kernel_image_path\": \"$kernel\", \"boot_args\": \"$big\"}"
answered PUT /drives/scratch \
    "{\"drive_id\": \"scratch\", \"path_on_host\": \"$big\", \"is_root_device\": false, \"is_read_only\": false}"
ember_alive "large values before boot"

expect 204 PUT /machine-config '{"vcpu_count": 2, "mem_size_mib": 256}'
boot_args='console=ttyS0 reboot=k panic=1 nomodule i8042.noaux i8042.nomux i8042.dumbkbd quiet'
boot_args+=' ember.test=\"while true; do cat /proc/uptime; sleep 1; done\"'
expect 204 PUT /boot-source "{\"kernel_image_path\": \"$kernel\", \"boot_args\": \"$boot_args\"}"
expect 204 PUT /drives/rootfs \
    '{"drive_id": "rootfs", "path_on_host": "rootfs.ext4", "is_root_device": true, "is_read_only": false}'
expect 204 PUT /drives/scratch \
    '{"drive_id": "scratch", "path_on_host": "scratch.img", "is_root_device": false, "is_read_only": false}'
expect 204 PUT /actions '{"action_type": "InstanceStart"}'
wait_for 240 grep -q EMBER-GUEST-INIT-OK console.txt || fail "the guest never reached its init"
wait_for 60 has_lines 3 || fail "the guest prints no uptime lines"
ok "the guest runs: $(console_lines) uptime lines"

# After boot every thread is filtered: large values on the vmm thread.
answered PATCH /drives/scratch "{\"drive_id\": \"scratch\", \"path_on_host\": \"$big\"}"
answered PUT /machine-config "{\"vcpu_count\": 2, \"mem_size_mib\": 256, \"x\": \"$big\"}"
answered PUT /boot-source "{\"kernel_image_path\": \"$kernel\", \"boot_args\": \"$big\"}"
answered PATCH /vm "{\"state\": \"$big\"}"
expect 200 GET /vm/config "" '"drive_id":"scratch"'
ember_alive "large values after boot"

before=$(console_lines)
start=$SECONDS
hostile_api_client "$sock" || fail "a hostile request got no answer"
ember_alive "the hostile cases"
hostile_api_client "$sock" --random 0x5ecc0b9 300 60 || fail "random hostile requests"
ember_alive "random hostile requests"
ok "hostile phase: $((SECONDS - start)) s"

expect 200 GET / "" '"state":"Running"'
wait_for 60 has_lines $((before + 3)) || fail "the guest stopped printing during the hostile phase"
ok "the guest still runs: $before -> $(console_lines) uptime lines"
grep -q 'bad syscall' ember.log && fail "a seccomp violation was logged"

expect 204 PUT /actions '{"action_type": "SendCtrlAltDel"}'
wait_for 120 ember_exited || fail "ember still runs after SendCtrlAltDel"
wait "$ember_pid"
code=$?
ember_pid=""
[[ $code == 0 ]] || fail "ember exited $code after SendCtrlAltDel"
ok "SendCtrlAltDel: the guest rebooted, ember exited 0"
echo "HOSTILE-API-PASS"
