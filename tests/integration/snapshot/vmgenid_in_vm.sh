#!/bin/bash
# Runs inside ember-sandbox; see vmgenid_test.sh. A Debian-kernel guest (vmgenid_guest.sh: one
# `SAMPLE n=<n> <hex>` line of /dev/urandom a second) boots over the API and must show its ACPI
# VMGenID device bound to the vmgenid driver; it is paused and Full-snapshotted, and two fresh
# embers load that one snapshot (File backend). Each clone must log the kernel's
# "crng reseeded due to virtual machine fork" and then sample bytes the other clone never reads.
# Prints one "ok:" line per check and VMGENID-TEST-PASS at the end.
# Usage: vmgenid_in_vm.sh KERNEL INITRD
set -u
kernel=$PWD/$1
initrd=$PWD/$2
top=$PWD
snap=$top/snap
ember_pids=()
current=""
reseed="crng reseeded due to virtual machine fork"

fail() {
    echo "FAIL: $*"
    if [[ -n "$current" ]]; then
        echo "---- $current/console.txt (last 40 lines)"
        tail -n 40 "$current/console.txt" 2>/dev/null
        echo "---- $current/ember.log (last 20 lines)"
        tail -n 20 "$current/ember.log" 2>/dev/null
    fi
    for p in "${ember_pids[@]}"; do kill -9 "$p" 2>/dev/null; done
    exit 1
}
source "$(dirname "$0")/api_client.sh"

now_ms() { local t=$EPOCHREALTIME; echo $(( ${t/./} / 1000 )); }
console() { tr -d '\r' <"$1/console.txt" 2>/dev/null; }
samples() { console "$1" | grep -E '^SAMPLE n=[0-9]+ [0-9a-f]{64}$'; }
has_samples() { (($(samples "$1" | wc -l) >= $2)); }
# The SAMPLE lines after the reseed line.
samples_after_reseed() {
    console "$1" | awk -v r="$reseed" 'index($0, r) {seen = 1; next}
        seen && /^SAMPLE n=[0-9]+ [0-9a-f]+$/ {print}'
}
has_reseeded_sample() { [[ -n "$(samples_after_reseed "$1")" ]]; }

start_ember() {  # start_ember DIR: sets $sock, $pid, $current
    current=$top/$1
    mkdir -p "$current"
    sock=$current/api.sock
    (cd "$current" && exec ember --api-sock "$sock" --level Info \
        </dev/null >console.txt 2>ember.log) &
    pid=$!
    ember_pids+=("$pid")
    wait_for 10 test -S "$sock" || fail "the API socket of $1 never appeared"
}
stop_ember() { kill -9 "$1" 2>/dev/null; wait "$1" 2>/dev/null; }

mkdir -p "$snap"

# ---- Boot: the device is there and bound.
start_ember vm0
expect 204 PUT /machine-config '{"vcpu_count": 2, "mem_size_mib": 256}'
expect 204 PUT /boot-source "{\"kernel_image_path\": \"$kernel\", \"initrd_path\": \"$initrd\",
    \"boot_args\": \"console=ttyS0 reboot=k panic=1 nomodule i8042.noaux i8042.nomux\"}"
expect 204 PUT /actions '{"action_type": "InstanceStart"}'
wait_for 300 has_samples vm0 3 || fail "the guest never printed 3 samples"
grep -o 'ACPI tables: .*' vm0/ember.log | head -n 1 | sed 's/^/INFO: /'
device=$(console vm0 | grep -m 1 '^VMGENID-DEVICE ')
[[ "$device" == *" driver=vmgenid"* ]] ||
    fail "no ACPI device with the VM_GEN_COUNTER id bound to the vmgenid driver: '$device'"
ok "the guest found the generation ID device: $device"
console vm0 | grep -m 3 -E 'ACPI: (RSDP|DSDT)|GED' | sed 's/^/INFO: guest: /'

# ---- One Full snapshot.
expect 204 PATCH /vm '{"state": "Paused"}'
expect 204 PUT /snapshot/create "{\"snapshot_type\": \"Full\",
    \"snapshot_path\": \"$snap/vm.state\", \"mem_file_path\": \"$snap/vm.mem\"}"
last_before=$(samples vm0 | tail -n 1)
stop_ember "$pid"
ok "Full snapshot after '${last_before:0:40}...'"

# ---- Two clones from it, each in a fresh ember.
load_body="{\"snapshot_path\": \"$snap/vm.state\",
    \"mem_backend\": {\"backend_type\": \"File\", \"backend_path\": \"$snap/vm.mem\"},
    \"resume_vm\": true}"
for clone in clone-a clone-b; do
    start_ember "$clone"
    t0=$(now_ms)
    expect 204 PUT /snapshot/load "$load_body"
    wait_for 60 has_reseeded_sample "$clone" ||
        fail "$clone: no '$reseed' line followed by a sample within 60 s of the load"
    echo "TIMING $clone load request -> first sample after the reseed: $(( $(now_ms) - t0 )) ms"
    if console "$clone" | grep -q -e EMBER-GUEST-INIT-OK -e 'Linux version'; then
        fail "$clone: the restored console shows boot output"
    fi
    wait_for 30 has_samples "$clone" 3 || fail "$clone: the guest stopped sampling"
    stop_ember "$pid"
    ok "$clone: '$reseed' logged, then $(samples_after_reseed "$clone" | wc -l) samples"
done
current=""

# ---- The clones' random bytes differ, and neither repeats what the original read.
first_a=$(samples_after_reseed clone-a | head -n 1)
first_b=$(samples_after_reseed clone-b | head -n 1)
echo "INFO: clone-a first sample after the reseed: $first_a"
echo "INFO: clone-b first sample after the reseed: $first_b"
[[ "${first_a#* n=* }" != "${first_b#* n=* }" ]] ||
    fail "the two clones read the same bytes after the reseed: ${first_a#* n=* }"
shared=$(comm -12 <(samples_after_reseed clone-a | awk '{print $3}' | sort) \
    <(samples_after_reseed clone-b | awk '{print $3}' | sort) | wc -l)
((shared == 0)) || fail "$shared samples after the reseed appear in both clones"
repeated=$(comm -12 <(samples vm0 | awk '{print $3}' | sort) \
    <(samples clone-a | awk '{print $3}' | sort) | wc -l)
((repeated == 0)) || fail "clone-a repeats $repeated samples of the original VM"
ok "clone-a and clone-b share no /dev/urandom sample after the reseed"
echo "VMGENID-TEST-PASS"
