#!/bin/bash
# Runs inside ember-sandbox; see clones_test.sh. One guest (clones_guest.sh: a counter that prints
# its wall clock and its scratch drive's marker every second) with a read-only root drive, a
# scratch drive and eth0 on tap0 is snapshotted; WAIT seconds later four clones are loaded from
# it, each a new ember with its own API socket, log file and metrics file (PUT /logger, /metrics
# before the load):
#   clones 1-3: network_overrides (tapK), drive_overrides (a copy of the scratch drive marked
#               CLONE-K), clock_realtime
#   clone 4:    none of these: tap0, the snapshot's scratch drive, the snapshot's clock
# Checks per clone: the count continues from the snapshot (no boot output), the guest reads its
# own scratch marker, it answers pings through its own tap, its log and metrics files are
# written, and its wall clock is the host's (clones 1-3) or lags by about WAIT (clone 4). Then a
# drive override of another size and one naming an unknown drive are refused with 400.
# Prints one "ok:" line per check and CLONES-TEST-PASS at the end.
# Usage: clones_in_vm.sh KERNEL ROOTFS GUEST_SCRIPT [WAIT_S]
set -u
kernel=$PWD/$1
rootfs_orig=$PWD/$2
guest_script=$PWD/$3
wait_s=${4:-20}
top=$PWD
snap=$top/snap
ember_pids=()
current=""

fail() {
    echo "FAIL: $*"
    if [[ -n "$current" ]]; then
        for f in console.txt ember.log ember.stderr; do
            echo "---- $current/$f (last 20 lines)"
            tail -n 20 "$current/$f" 2>/dev/null
        done
    fi
    for pid in "${ember_pids[@]}"; do kill -9 "$pid" 2>/dev/null; done
    exit 1
}
source "$(dirname "$0")/api_client.sh"

# The TICK lines of a console file, "n up date marker" per line.
ticks() {
    tr -d '\r' <"$1" 2>/dev/null |
        sed -n 's/^TICK n=\([0-9]*\) up=\([0-9.]*\) date=\([0-9]*\) marker=\(.*\)$/\1 \2 \3 \4/p'
}
tick_count() { ticks "$1" | wc -l; }
has_ticks() { (($(tick_count "$1") >= $2)); }

# start_ember DIR: a new ember in DIR with its API socket there; sets $sock, $pid, $current.
start_ember() {
    current=$1
    sock=$current/api.sock
    rm -f "$sock"
    (cd "$current" && exec ember --api-sock "$sock" --level Info \
        </dev/null >console.txt 2>ember.stderr) &
    pid=$!
    ember_pids+=("$pid")
    wait_for 10 test -S "$sock" || fail "the API socket of $current never appeared"
}

make_tap() {  # make_tap NAME HOST_IP
    ip tuntap add dev "$1" mode tap || fail "cannot create $1"
    ip addr add "$2/24" dev "$1"
    ip link set "$1" up
}

# host_offset FILE: host time minus the guest's date on FILE's last TICK line, read as soon as it
# appears (the guest prints one a second; this polls every 0.2 s).
host_offset() {
    local file=$1 before last deadline=$((SECONDS + 30))
    before=$(tick_count "$file")
    until (($(tick_count "$file") > before)); do
        ((SECONDS < deadline)) || fail "$file: no new TICK line within 30 s"
        sleep 0.1
    done
    last=$(ticks "$file" | tail -n 1)
    set -- $last
    echo $(($(date +%s) - $3))
}

mkdir -p "$snap" base
make_tap tap0 172.16.0.1
make_tap tap1 172.16.0.11
make_tap tap2 172.16.0.12
make_tap tap3 172.16.0.13

# ---- the snapshot: read-only root (shared by every clone), a 1 MiB scratch drive, eth0 on tap0.
cp "$rootfs_orig" base/rootfs.ext4
debugfs -w -R "write $guest_script /etc/ember-test" base/rootfs.ext4 >/dev/null 2>&1 ||
    fail "cannot put the guest script into the rootfs"
truncate -s 1M base/scratch.img
printf 'ORIGINAL\n' | dd of=base/scratch.img conv=notrunc 2>/dev/null
start_ember "$top/base"
boot_args='console=ttyS0 reboot=k panic=1 nomodule i8042.noaux i8042.nomux i8042.dumbkbd quiet'
expect 204 PUT /machine-config '{"vcpu_count": 1, "mem_size_mib": 128}'
expect 204 PUT /boot-source "{\"kernel_image_path\": \"$kernel\", \"boot_args\": \"$boot_args\"}"
expect 204 PUT /drives/rootfs '{"drive_id": "rootfs", "path_on_host": "'"$top/base/rootfs.ext4"'",
    "is_root_device": true, "is_read_only": true}'
expect 204 PUT /drives/scratch '{"drive_id": "scratch", "path_on_host": "'"$top/base/scratch.img"'",
    "is_root_device": false, "is_read_only": false}'
expect 204 PUT /network-interfaces/eth0 \
    '{"iface_id": "eth0", "guest_mac": "06:00:ac:10:00:02", "host_dev_name": "tap0"}'
expect 204 PUT /actions '{"action_type": "InstanceStart"}'
wait_for 240 has_ticks base/console.txt 3 || fail "the guest never ticked"
ticks base/console.txt | tail -n 1 | grep -q ' ORIGINAL$' ||
    fail "the guest does not read its scratch drive's marker: $(ticks base/console.txt | tail -n 1)"
offset_base=$(host_offset base/console.txt)
ok "the guest ticks, reads ORIGINAL from its scratch drive; host - guest clock = $offset_base s"
expect 204 PATCH /vm '{"state": "Paused"}'
sleep 0.5
last=$(ticks base/console.txt | tail -n 1)
set -- $last
n_at=$1 up_at=$2
expect 204 PUT /snapshot/create "{\"snapshot_type\": \"Full\", \"snapshot_path\": \"$snap/vm.state\",
    \"mem_file_path\": \"$snap/vm.mem\"}"
saved_at=$SECONDS
kill -9 "$pid"
wait "$pid" 2>/dev/null
ok "snapshot taken after count $n_at (uptime $up_at); loading its clones in $wait_s s"

# ---- the clones' files, then the wait.
for k in 1 2 3 4; do
    mkdir -p "c$k"
    : >"c$k/ember.log"   # PUT /logger opens an existing file, as Firecracker's
done
for k in 1 2 3; do
    cp base/scratch.img "c$k/scratch.img"
    printf 'CLONE-%s\n' "$k" | dd of="c$k/scratch.img" conv=notrunc 2>/dev/null
done
sleep $((wait_s - (SECONDS - saved_at)))

load_body() {  # load_body K: clone K's PUT /snapshot/load
    local body="{\"snapshot_path\": \"$snap/vm.state\",
        \"mem_backend\": {\"backend_type\": \"File\", \"backend_path\": \"$snap/vm.mem\"},
        \"resume_vm\": true"
    if (($1 <= 3)); then
        body+=", \"clock_realtime\": true,
        \"network_overrides\": [{\"iface_id\": \"eth0\", \"host_dev_name\": \"tap$1\"}],
        \"drive_overrides\": [{\"drive_id\": \"scratch\", \"path_on_host\": \"$top/c$1/scratch.img\"}]"
    fi
    echo "$body}"
}
declare -A clone_pid
for k in 1 2 3 4; do
    start_ember "$top/c$k"
    clone_pid[$k]=$pid
    expect 204 PUT /logger "{\"log_path\": \"$top/c$k/ember.log\", \"level\": \"Info\"}"
    expect 204 PUT /metrics "{\"metrics_path\": \"$top/c$k/metrics.json\"}"
    expect 204 PUT /snapshot/load "$(load_body "$k")"
done
ok "4 clones loaded, $((SECONDS - saved_at)) s after the snapshot"

# ---- each clone continues, sees its drive, answers on its tap, writes its own log and metrics.
for k in 1 2 3 4; do
    current=$top/c$k
    sock=$current/api.sock
    wait_for 60 has_ticks "c$k/console.txt" 2 || fail "clone $k: no TICK lines after the load"
    set -- $(ticks "c$k/console.txt" | head -n 1)   # (no /dev/fd here for < <(...))
    first=$1 first_up=$2
    ((first >= n_at + 1 && first <= n_at + 3)) ||
        fail "clone $k: its first count is $first, the snapshot was taken after $n_at"
    awk -v a="$first_up" -v b="$up_at" 'BEGIN {exit !(a >= b)}' ||
        fail "clone $k: uptime $first_up is below $up_at: the guest rebooted"
    if grep -q -e EMBER-GUEST-INIT-OK -e CLONES-GUEST-START -e "Linux version" "c$k/console.txt"; then
        fail "clone $k: its console shows boot output"
    fi
    want=CLONE-$k tap=tap$k
    ((k == 4)) && want=ORIGINAL tap=tap0
    got=$(ticks "c$k/console.txt" | tail -n 1 | cut -d' ' -f4)
    [[ $got == "$want" ]] || fail "clone $k reads marker '$got' from its scratch drive, not $want"
    ping -I "$tap" -c 3 -W 5 172.16.0.2 >"c$k/ping.txt" 2>&1 ||
        { cat "c$k/ping.txt"; fail "clone $k does not answer pings through $tap"; }
    expect 204 PUT /actions '{"action_type": "FlushMetrics"}'
    grep -q "Snapshot $snap/vm.state loaded" "c$k/ember.log" ||
        fail "clone $k: its log file does not tell of the load"
    [[ -s c$k/metrics.json ]] && grep -q '"utc_timestamp_ms"' "c$k/metrics.json" ||
        fail "clone $k: its metrics file is empty"
    ok "clone $k: counts on from $first (snapshot after $n_at, uptime $first_up >= $up_at)," \
        "reads $want, answers through $tap, its own socket, log and metrics file written"
done

# ---- clock_realtime: the clones' wall clocks are the host's; the one loaded without lags.
for k in 1 2 3 4; do
    offset=$(host_offset "c$k/console.txt")
    drift=$((offset - offset_base))
    if ((k <= 3)); then
        ((drift >= -3 && drift <= 3)) ||
            fail "clone $k (clock_realtime): host - guest clock = $offset s, $offset_base s before the snapshot"
        ok "clone $k (clock_realtime): host - guest clock = $offset s ($offset_base s before the snapshot)"
    else
        ((drift >= wait_s - 3)) ||
            fail "clone 4 (no clock_realtime): host - guest clock = $offset s: expected about $wait_s s more than $offset_base"
        ok "clone 4 (no clock_realtime): its clock lags the host's by $offset s ($offset_base s before; the wait was $wait_s s)"
    fi
done
for k in 1 2 3 4; do kill -9 "${clone_pid[$k]}"; wait "${clone_pid[$k]}" 2>/dev/null; done

# ---- refused overrides: 400, and the process ends as after any failed load.
mkdir -p bad
: >bad/ember.log
truncate -s 512K bad/small.img
start_ember "$top/bad"
expect 400 PUT /snapshot/load "{\"snapshot_path\": \"$snap/vm.state\",
    \"mem_backend\": {\"backend_type\": \"File\", \"backend_path\": \"$snap/vm.mem\"},
    \"drive_overrides\": [{\"drive_id\": \"scratch\", \"path_on_host\": \"$top/bad/small.img\"}]}" \
    "is 524288 bytes, the snapshot's drive was 1048576 bytes"
wait_for 30 exited "$pid" || fail "ember still runs after a refused load"
start_ember "$top/bad"
expect 400 PUT /snapshot/load "{\"snapshot_path\": \"$snap/vm.state\",
    \"mem_backend\": {\"backend_type\": \"File\", \"backend_path\": \"$snap/vm.mem\"},
    \"drive_overrides\": [{\"drive_id\": \"data\", \"path_on_host\": \"$top/bad/small.img\"}]}" \
    "the snapshot has no drive 'data'"
wait_for 30 exited "$pid" || fail "ember still runs after a refused load"
echo "CLONES-TEST-PASS"
