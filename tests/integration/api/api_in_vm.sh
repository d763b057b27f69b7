#!/bin/bash
# Runs inside ember-sandbox: Firecracker's getting-started sequence over the API with
# `curl --unix-socket`, then pause/resume and SendCtrlAltDel. Prints one "ok:" or "FAIL:" line per
# check and exits non-zero on the first failure.
# Usage: api_in_vm.sh KERNEL ROOTFS
set -u
kernel=$1
rootfs=$2
sock=$PWD/api.sock
ember_pid=""

fail() { fail_and_show "$*" 30 console.txt ember.log api.log; }
source "$(dirname "$0")/api_client.sh"

ip tuntap add dev tap0 mode tap || fail "cannot create tap0"
ip link set tap0 up
cp "$rootfs" rootfs.ext4  # Booted read-write: a private copy.

start=$EPOCHREALTIME
ember --api-sock "$sock" --level Info </dev/null >console.txt 2>ember.log &
ember_pid=$!
wait_for 10 test -S "$sock" || fail "the API socket never appeared"
now=$EPOCHREALTIME
echo "SOCKET_READY_MS=$(( (${now/./} - ${start/./}) / 1000 )) (polled every 0.2 s)"

expect 200 GET / "" '"state":"Not started"'
: >api.log  # As Firecracker's, PUT /logger opens the file, never creates it.
expect 204 PUT /logger '{"log_path": "api.log", "level": "Info", "show_level": true}'
expect 204 PUT /metrics '{"metrics_path": "metrics.json"}'
expect 204 PUT /machine-config '{"vcpu_count": 2, "mem_size_mib": 256}'
boot_args='console=ttyS0 reboot=k panic=1 nomodule i8042.noaux i8042.nomux i8042.dumbkbd quiet'
boot_args+=' ember.test=\"ls /sys/class/net; while true; do cat /proc/uptime; echo VDB-SECTORS=$(cat /sys/block/vdb/size); sleep 1; done\"'
expect 204 PUT /boot-source "{\"kernel_image_path\": \"$kernel\", \"boot_args\": \"$boot_args\"}"
expect 204 PUT /drives/rootfs \
    '{"drive_id": "rootfs", "path_on_host": "rootfs.ext4", "is_root_device": true, "is_read_only": false}'
expect 204 PUT /network-interfaces/eth0 \
    '{"iface_id": "eth0", "guest_mac": "06:00:ac:10:00:02", "host_dev_name": "tap0"}'
truncate -s 8M scratch-small.img
truncate -s 16M scratch-large.img
expect 204 PUT /drives/scratch \
    '{"drive_id": "scratch", "path_on_host": "scratch-small.img", "is_root_device": false, "is_read_only": false}'
expect 400 PATCH /drives/scratch '{"drive_id": "scratch", "path_on_host": "scratch-large.img"}' \
    "not supported before"
expect 400 PUT /vsock '{"guest_cid": 3, "uds_path": "v.sock"}' "Ember does not support"
expect 200 GET /vm/config "" '"drive_id":"rootfs"'
expect 204 PUT /actions '{"action_type": "InstanceStart"}'
expect 200 GET / "" '"state":"Running"'
expect 400 PUT /boot-source "{\"kernel_image_path\": \"$kernel\"}" "not supported after starting the microVM"

wait_for 240 grep -q EMBER-GUEST-INIT-OK console.txt || fail "the guest never reached its init"
now=$EPOCHREALTIME
ok "guest init reached $(( (${now/./} - ${start/./}) / 1000 )) ms after launch"
wait_for 60 has_lines 3 || fail "the guest prints no uptime lines"
grep -qw eth0 console.txt || fail "the guest has no eth0"
ok "the guest sees eth0 and booted from the rootfs drive"
wait_for 30 grep -q "VDB-SECTORS=16384" console.txt || fail "the guest does not see the 8 MiB scratch drive"

# PATCH after boot: a new backing file (the guest learns the new capacity through the
# config-change interrupt) and rate limiters on the drive and the interface.
expect 204 PATCH /drives/scratch '{"drive_id": "scratch", "path_on_host": "scratch-large.img"}'
wait_for 60 grep -q "VDB-SECTORS=32768" console.txt ||
    fail "the guest did not see the 16 MiB file after PATCH /drives"
ok "the guest sees the new 16 MiB backing file after PATCH /drives/scratch"
expect 204 PATCH /drives/scratch \
    '{"drive_id": "scratch", "rate_limiter": {"ops": {"size": 1000, "refill_time": 100}}}'
expect 204 PATCH /network-interfaces/eth0 \
    '{"iface_id": "eth0", "tx_rate_limiter": {"bandwidth": {"size": 1048576, "refill_time": 100}}}'
expect 400 PATCH /drives/nosuch '{"drive_id": "nosuch", "path_on_host": "scratch-large.img"}'

expect 204 PATCH /vm '{"state": "Paused"}'
expect 200 GET / "" '"state":"Paused"'
paused_lines=$(console_lines)
sleep 5
[[ "$(console_lines)" == "$paused_lines" ]] || fail "the guest printed while paused"
ok "no guest output for 5 s while paused ($paused_lines uptime lines)"
expect 204 PATCH /vm '{"state": "Resumed"}'
expect 200 GET / "" '"state":"Running"'
wait_for 60 has_lines $((paused_lines + 2)) ||
    fail "the guest did not continue after Resumed"
ok "the guest continues after Resumed: $(grep '^[0-9][0-9]*\.[0-9]* ' console.txt | tail -n 4 | tr '\n' '|')"
# The guest's clock stood still too: across the 5 s pause its uptime advances by about one loop
# step (1 s of sleep), not by the pause.
gap=$(grep '^[0-9][0-9]*\.[0-9]* ' console.txt | awk -v n="$paused_lines" 'NR == n {a = $1} NR == n + 1 {print $1 - a}')
awk -v g="$gap" 'BEGIN {exit !(g < 4.0)}' ||
    fail "the guest's uptime advanced ${gap} s across the 5 s pause: its clock kept running"
ok "guest uptime advanced ${gap} s across the 5 s pause"

expect 204 PUT /actions '{"action_type": "FlushMetrics"}'
grep -q '"uart":{"write_count":[1-9]' metrics.json || fail "no uart output counted in metrics.json"
grep -q '"put_api_requests":{"count":' metrics.json || fail "no API counters in metrics.json"
grep -q '"block_rootfs":{[^}]*"read_count":[1-9]' metrics.json || fail "no block_rootfs reads in metrics.json"
grep -q '"net_eth0":{' metrics.json || fail "no net_eth0 group in metrics.json"
ok "metrics: $(wc -l <metrics.json) line(s), $(tail -n 1 metrics.json | cut -c1-160)..."
grep -q ':INFO\]' api.log || fail "PUT /logger did not move the log to api.log"
ok "PUT /logger: $(wc -l <api.log) line(s) in api.log with the level shown"

expect 204 PUT /actions '{"action_type": "SendCtrlAltDel"}'
wait_for 120 ember_exited || fail "ember still runs after SendCtrlAltDel"
wait "$ember_pid"
code=$?
ember_pid=""
[[ $code == 0 ]] || fail "ember exited $code after SendCtrlAltDel"
[[ ! -e "$sock" ]] || fail "the API socket file is left behind"
ok "SendCtrlAltDel: the guest rebooted, ember exited 0 and removed its socket"
echo "---- console (last 8 lines)"; tail -n 8 console.txt
echo "---- api log (last 5 lines)"; tail -n 5 api.log
echo "API-TEST-PASS"
