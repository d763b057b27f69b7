#!/bin/bash
# Runs inside ember-sandbox for virtio_test.sh --suite net: two taps, one ember guest with two
# interfaces (the second with a TX bandwidth limit of 1 MiB/s), pings both ways, 64 MiB of TCP
# from the guest, and the limited interface's throughput as the sandbox receives it.
# Prints `CHECK <name> PASS|FAIL <detail>` lines.
set -u
echo "RUN-IN-VM-START"  # sandbox_run_rerun keeps the output from the last such line on
args="console=ttyS0 reboot=k panic=1 nomodule i8042.noaux i8042.nomux i8042.dumbkbd swiotlb=noforce quiet"
limit_bytes=131072 limit_ms=125   # 1 MiB/s: well below what a loaded nested TCG manages unlimited
limited_total=8388608
check() { if [[ $2 -eq 0 ]]; then echo "CHECK $1 PASS $3"; else echo "CHECK $1 FAIL $3"; fi; }
guest() { sed -n "s/^$1=//p" console.txt | tr -d '\r' | head -1; }
now_ms() { local t=$EPOCHREALTIME; echo $(( ${t/./} / 1000 )); }

for i in 0 1; do
    ip tuntap add "tap$i" mode tap
    ip addr add "172.16.$i.1/24" dev "tap$i"
    ip link set "tap$i" up
done
cp rootfs.ext4 root.ext4
cat >vm.json <<JSON
{
  "boot-source": {"kernel_image_path": "bzImage", "boot_args": "$args"},
  "machine-config": {"vcpu_count": 1, "mem_size_mib": 256},
  "drives": [{"drive_id": "rootfs", "path_on_host": "root.ext4", "is_root_device": true}],
  "network-interfaces": [
    {"iface_id": "eth0", "host_dev_name": "tap0", "guest_mac": "06:00:ac:10:00:02"},
    {"iface_id": "eth1", "host_dev_name": "tap1", "guest_mac": "06:00:ac:10:01:02",
     "tx_rate_limiter": {"bandwidth": {"size": $limit_bytes, "refill_time": $limit_ms}}}
  ]
}
JSON

# Listeners whose stdin never ends (busybox nc stops when its peer half-closes), each timed from
# its first byte to its last as the sandbox sees them: NAME.bin, NAME.timing.
mkfifo hold
exec 3<>hold
listen() {  # listen PORT NAME
    nc -l -p "$1" <&3 >"$2.bin" &
    local pid=$!
    (
        while [[ ! -s $2.bin ]] && kill -0 $pid 2>/dev/null; do sleep 0.05; done
        t0=$(now_ms); b0=$(stat -c %s "$2.bin")
        while kill -0 $pid 2>/dev/null; do sleep 0.05; done
        t1=$(now_ms); b1=$(stat -c %s "$2.bin")
        echo "$t0 $b0 $t1 $b1" >"$2.timing"
    ) &
    listener_pids+=("$pid")
    timer_pids+=("$!")
}
kibps() {  # kibps NAME: KiB/s between the first and the last byte
    local t0 b0 t1 b1
    read -r t0 b0 t1 b1 <"$1.timing"
    echo $(( (b1 - b0) * 1000 / ((t1 - t0) > 0 ? (t1 - t0) : 1) / 1024 ))
}
listener_pids=() timer_pids=()
listen 5001 tcp
listen 5002 limited
listen 5003 unlimited
listen 5004 back
listen 5005 reset
head -c 16777216 /dev/urandom >blob16
blob_sha=$(sha256sum blob16 | cut -d' ' -f1)

timeout 600 ember --no-api --config-file vm.json --level Info </dev/null >console.txt 2>ember.log &
ember_pid=$!
for _ in $(seq 1 1200); do
    grep -q GUEST-NET-UP console.txt 2>/dev/null && break
    kill -0 $ember_pid 2>/dev/null || break
    sleep 0.25
done
ping -c 3 -W 5 172.16.0.2 >ping.txt 2>&1
host_ping=$?
echo go | timeout 60 nc 172.16.0.2 6000
# 16 MiB to the guest once it listens (guestbench's large writes; it waits for the guest's close).
(
    for _ in $(seq 1 2400); do
        grep -q GUEST-RX-READY console.txt 2>/dev/null && break
        kill -0 $ember_pid 2>/dev/null || exit
        sleep 0.25
    done
    for _ in $(seq 1 40); do
        guestbench tcpsend 172.16.0.2 6001 16 blob16 >send.txt 2>&1 && break
        sleep 0.25   # the guest's nc may not listen yet
    done
) &
sender_pid=$!
wait $ember_pid
rc=$?
kill $sender_pid 2>/dev/null
kill "${listener_pids[@]}" 2>/dev/null
wait "${timer_pids[@]}" 2>/dev/null
echo "INFO ember_exit=$rc macs=[$(guest GUEST-MACS)] go=$(guest GUEST-GO)"

[[ "$(guest GUEST-PING)" == ok ]]
check guest_ping $? "guest=$(guest GUEST-PING)"
check host_ping $host_ping "$(grep -E 'packets transmitted' ping.txt)"
host_sha=$(sha256sum tcp.bin | cut -d' ' -f1)
[[ $(stat -c %s tcp.bin) -eq 67108864 && "$(guest GUEST-TCP-SHA)" == "$host_sha" ]]
check tcp_64mib $? "bytes=$(stat -c %s tcp.bin) guest=$(guest GUEST-TCP-SHA) host=$host_sha"
[[ -s tcp.timing ]] && echo "INFO TCP guest->sandbox, 64 MiB of random data, no limit: $(kibps tcp) KiB/s"
[[ -s unlimited.timing ]] && echo "INFO TCP guest->sandbox, 8 MiB with large writes, no limit: $(kibps unlimited) KiB/s"
expected_kibps=$(( limit_bytes * 1000 / limit_ms / 1024 ))
if [[ -s limited.timing && $(stat -c %s limited.bin) -eq $limited_total ]]; then
    measured=$(kibps limited)
    (( measured * 100 >= expected_kibps * 80 && measured * 100 <= expected_kibps * 120 ))
    check tx_rate_limit $? "measured=${measured} KiB/s limit=${expected_kibps} KiB/s"
else
    check tx_rate_limit 1 "bytes=$(stat -c %s limited.bin) (expected $limited_total)"
fi
# Integrity: whole both ways; after a reset right behind the last write, a prefix of the data.
rx=$(guest GUEST-RX-SHA)
[[ ${rx%% *} == "$blob_sha" && ${rx##*bytes=} -eq 16777216 ]]
check tcp_16mib_to_guest $? "guest=${rx} sent=$blob_sha $(tr '\n' ' ' <send.txt 2>/dev/null)"
back_sha=$(sha256sum back.bin | cut -d' ' -f1)
[[ $(stat -c %s back.bin) -eq 16777216 && $back_sha == "$blob_sha" ]]
check tcp_16mib_back $? "bytes=$(stat -c %s back.bin) sha=$back_sha sent=$blob_sha"
reset_bytes=$(stat -c %s reset.bin)
# At least half: the guest's send buffer holds far less than 8 MiB, so less means it never ran.
((reset_bytes >= 8388608)) && cmp -s -n "$reset_bytes" reset.bin blob16
check tcp_16mib_then_reset $? "received $reset_bytes of 16777216 bytes before the guest reset; $(
    ((reset_bytes == 16777216)) && echo "whole" || echo "the rest never arrived (the connection broke)"
    ); those received $(cmp -s -n "$reset_bytes" reset.bin blob16 && echo "match" || cmp -n "$reset_bytes" reset.bin blob16)"
echo "---- console (last 20 lines)"
tail -n 20 console.txt | tr -d '\r'
echo "---- ember log"
cat ember.log
