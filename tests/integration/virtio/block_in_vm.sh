#!/bin/bash
# Runs inside ember-sandbox for virtio_test.sh --suite block: one ember guest per engine (Sync,
# Async), each with four drives (root, data, read-only, discard), then checks the files against
# what the guest printed. Prints `CHECK <name> PASS|FAIL <detail>` lines.
set -u
echo "RUN-IN-VM-START"  # sandbox_run_rerun keeps the output from the last such line on
args="console=ttyS0 reboot=k panic=1 nomodule i8042.noaux i8042.nomux i8042.dumbkbd swiotlb=noforce quiet"
sha() { sha256sum "$1" | cut -d' ' -f1; }
check() {  # check NAME CONDITION-STATUS DETAIL
    if [[ $2 -eq 0 ]]; then echo "CHECK $1 PASS $3"; else echo "CHECK $1 FAIL $3"; fi
}
guest() { sed -n "s/^$1=//p" "$console" | tr -d '\r' | head -1; }

for engine in Sync Async; do
    e=${engine,,}
    cp rootfs.ext4 "root-$e.ext4"
    head -c 67108864 /dev/urandom >"data-$e.img"
    head -c 1048576 /dev/urandom >"ro-$e.img"
    head -c 33554432 /dev/urandom >"discard-$e.img"
    data_before=$(sha "data-$e.img")
    ro_before=$(sha "ro-$e.img")
    discard_blocks_before=$(stat -c %b "discard-$e.img")
    cat >"vm-$e.json" <<JSON
{
  "boot-source": {"kernel_image_path": "bzImage", "boot_args": "$args"},
  "machine-config": {"vcpu_count": 1, "mem_size_mib": 256},
  "drives": [
    {"drive_id": "data", "path_on_host": "data-$e.img", "is_root_device": false, "io_engine": "$engine"},
    {"drive_id": "rootfs", "path_on_host": "root-$e.ext4", "is_root_device": true, "io_engine": "$engine"},
    {"drive_id": "ro", "path_on_host": "ro-$e.img", "is_root_device": false, "is_read_only": true, "io_engine": "$engine"},
    {"drive_id": "trim", "path_on_host": "discard-$e.img", "is_root_device": false, "io_engine": "$engine"}
  ]
}
JSON
    console="console-$e.txt"
    start=$EPOCHREALTIME
    timeout 900 ember --no-api --config-file "vm-$e.json" --level Info </dev/null >"$console" 2>"ember-$e.log"
    rc=$?
    now=$EPOCHREALTIME
    echo "INFO engine=$engine ember_exit=$rc run_ms=$(( (${now/./} - ${start/./}) / 1000 ))"

    grep -q EMBER-GUEST-INIT-OK "$console" && [[ $rc -eq 0 ]] && grep -q 'EMBER-TEST-EXIT=0' "$console"
    check "root_boot_$e" $? "exit=$rc root=[$(guest GUEST-ROOT)] disks=[$(guest GUEST-DISKS)]"
    [[ "$(guest GUEST-VDB-BEFORE)" == "$data_before" ]]
    check "data_read_$e" $? "guest=$(guest GUEST-VDB-BEFORE) host=$data_before"
    data_after=$(sha "data-$e.img")
    written=$(guest GUEST-VDB-WRITTEN)
    [[ -n "$written" && "$written" == "$data_after" && "$data_after" != "$data_before" ]]
    check "data_write_$e" $? "guest=$written host=$data_after"
    [[ -n "$written" && "$(guest GUEST-VDB-READBACK)" == "$written" ]]
    check "data_readback_$e" $? "readback=$(guest GUEST-VDB-READBACK)"
    [[ "$(guest GUEST-VDC-RO)" == 1 && "$(guest GUEST-VDC-WRITE)" == refused ]]
    check "ro_refused_$e" $? "ro=$(guest GUEST-VDC-RO) write=$(guest GUEST-VDC-WRITE)"
    [[ "$(sha "ro-$e.img")" == "$ro_before" ]]
    check "ro_unchanged_$e" $? "sha=$(sha "ro-$e.img")"
    discard_blocks_after=$(stat -c %b "discard-$e.img")
    [[ "$(guest GUEST-VDD-DISCARD)" == ok && $discard_blocks_after -lt $((discard_blocks_before / 2)) ]]
    check "discard_$e" $? "guest=$(guest GUEST-VDD-DISCARD) max=$(guest GUEST-VDD-DISCARD-MAX) blocks $discard_blocks_before -> $discard_blocks_after"

    echo "---- console ($engine, last 15 lines)"
    tail -n 15 "$console" | tr -d '\r'
    echo "---- ember log ($engine)"
    cat "ember-$e.log"
    rm -f "root-$e.ext4" "data-$e.img" "ro-$e.img" "discard-$e.img"
done
