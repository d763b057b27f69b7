#!/bin/bash
# Runs inside ember-sandbox for mmds_test.sh: one tap, two ember guests configured over the API
# with a data store PUT before boot. Boot 1 (MMDS V1): text and JSON reads, 1,000 sequential
# requests with ember's VmRSS sampled before and after, MMDS requests during a 64 MiB TCP
# transfer to the sandbox. Boot 2 (MMDS V2): a session token through a raw PUT, a GET with it,
# and 401 without it or with a wrong one. Prints `CHECK <name> PASS|FAIL <detail>` lines.
set -u
echo "RUN-IN-VM-START"  # sandbox_run_rerun keeps the output from the last such line on
sock=$PWD/api.sock
ember_pid=""
args="console=ttyS0 reboot=k panic=1 nomodule i8042.noaux i8042.nomux i8042.dumbkbd swiotlb=noforce quiet"
data='{"latest": {"meta-data": {"ami-id": "ami-12345678", "reservation-id": "r-fea54097", "local-hostname": "ip-10-251-50-12.ec2.internal"}}}'
check() { if [[ $2 -eq 0 ]]; then echo "CHECK $1 PASS $3"; else echo "CHECK $1 FAIL $3"; fi; }
guest() { sed -n "s/^$1=//p" console.txt | tr -d '\r' | head -1; }
rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$ember_pid/status"; }
fail() { fail_and_show "$*" 30 console.txt ember.log; }
source "$(dirname "$0")/api_client.sh"

ip tuntap add tap0 mode tap
ip addr add 172.16.0.1/24 dev tap0
ip link set tap0 up

# boot VERSION: a fresh ember, configured over the API (MMDS before InstanceStart), started.
boot() {
    cp rootfs.ext4 root.ext4
    rm -f "$sock" console.txt
    ember --api-sock "$sock" --level Info </dev/null >console.txt 2>ember.log &
    ember_pid=$!
    wait_for 10 test -S "$sock" || fail "the API socket never appeared"
    expect 204 PUT /machine-config '{"vcpu_count": 1, "mem_size_mib": 256}'
    expect 204 PUT /boot-source "{\"kernel_image_path\": \"bzImage\", \"boot_args\": \"$args ember.mmds=$1\"}"
    expect 204 PUT /drives/rootfs '{"drive_id": "rootfs", "path_on_host": "root.ext4", "is_root_device": true}'
    expect 204 PUT /network-interfaces/eth0 \
        '{"iface_id": "eth0", "host_dev_name": "tap0", "guest_mac": "06:00:ac:10:00:02"}'
    expect 204 PUT /mmds/config "{\"network_interfaces\": [\"eth0\"], \"version\": \"${1^^}\"}"
    expect 204 PUT /mmds "$data"
    : >metrics.json
    expect 204 PUT /metrics "{\"metrics_path\": \"$PWD/metrics.json\"}"
    expect 200 GET /mmds "" '"ami-id":"ami-12345678"'
    expect 204 PUT /actions '{"action_type": "InstanceStart"}'
}

finish() {  # the guest reboots when its script ends; ember then exits
    wait_for 300 ember_exited || kill "$ember_pid"
    wait "$ember_pid"
    echo "INFO ember_exit=$? ($1)"
    echo "---- console ($1, last 25 lines)"; tail -n 25 console.txt | tr -d '\r'
    echo "---- ember log ($1, last 10 lines)"; tail -n 10 ember.log
}

# ---- Boot 1: V1 --------------------------------------------------------------------------------
mkfifo hold
exec 3<>hold
nc -l -p 5001 <&3 >bulk.bin &
listener=$!
boot v1
wait_for 600 grep -q GUEST-LOAD-READY console.txt || fail "the guest never reached the load test"
[[ "$(guest GUEST-V1-TEXT)" == "ami-12345678" ]]
check v1_text $? "guest=[$(guest GUEST-V1-TEXT)]"
[[ "$(guest GUEST-V1-LIST)" == "ami-id,local-hostname,reservation-id" ]]
check v1_listing $? "guest=[$(guest GUEST-V1-LIST)]"
[[ "$(guest GUEST-V1-JSON)" == '{"ami-id":"ami-12345678","local-hostname":"ip-10-251-50-12.ec2.internal","reservation-id":"r-fea54097"}' ]]
check v1_json $? "guest=[$(guest GUEST-V1-JSON)]"

rss_before=$(rss_kib)
echo go | timeout 60 nc 172.16.0.2 6000
wait_for 900 grep -q GUEST-LOAD-DONE console.txt || fail "the 1,000 requests did not finish"
rss_after=$(rss_kib)
done_ok=$(guest GUEST-LOAD-DONE)
[[ "$done_ok" == 1000 && -n "$rss_before" && -n "$rss_after" ]] && ((rss_after - rss_before < 1024))
check rss_flat_1000 $? "answered=$done_ok/1000 VmRSS before=${rss_before} kB after=${rss_after} kB"
echo go | timeout 60 nc 172.16.0.2 6001

wait_for 900 grep -q GUEST-BULK-RC console.txt || fail "the bulk transfer did not finish"
bulk_bytes=$(stat -c %s bulk.bin)
read -r concurrent during <<<"$(guest GUEST-CONCURRENT-MMDS)"
[[ "$concurrent" == 50 && "$(guest GUEST-BULK-RC)" == 0* && $bulk_bytes -eq 67108864 ]]
check mmds_during_bulk_tcp $? "mmds=$concurrent/50 ($during while the transfer ran) bulk_rc=[$(guest GUEST-BULK-RC)] bytes=$bulk_bytes"
kill "$listener" 2>/dev/null
finish v1

# ---- Boot 2: V2 --------------------------------------------------------------------------------
boot v2
wait_for 600 grep -q GUEST-V2-DONE console.txt || fail "the V2 guest script did not finish"
[[ "$(guest GUEST-V2-TOKEN-STATUS)" == "HTTP/1.1 200"* && $(guest GUEST-V2-TOKEN-LEN) -gt 0 ]]
check v2_token $? "status=[$(guest GUEST-V2-TOKEN-STATUS)] length=$(guest GUEST-V2-TOKEN-LEN)"
[[ "$(guest GUEST-V2-WITH-TOKEN)" == "ami-12345678" ]]
check v2_get_with_token $? "guest=[$(guest GUEST-V2-WITH-TOKEN)]"
[[ "$(guest GUEST-V2-NO-TOKEN)" == "HTTP/1.1 401"* ]]
check v2_get_without_token_401 $? "guest=[$(guest GUEST-V2-NO-TOKEN)]"
[[ "$(guest GUEST-V2-BAD-TOKEN)" == "HTTP/1.1 401"* ]]
check v2_get_bad_token_401 $? "guest=[$(guest GUEST-V2-BAD-TOKEN)]"
finish v2
# The metrics line written at exit: Firecracker's "mmds" group counts the two refused GETs and
# the frames the stack handled.
mmds_metrics=$(tail -n 1 metrics.json | grep -oE '"mmds":\{[^}]*\}')
count() { grep -oE "\"$1\":[0-9]+" <<<"$mmds_metrics" | cut -d: -f2; }
[[ $(count rx_no_token) -ge 1 && $(count rx_invalid_token) -ge 1 && $(count rx_count) -ge 1 &&
   $(count connections_created) -ge 1 ]]
check v2_metrics $? "mmds=[$mmds_metrics]"
