#!/bin/bash
# Runs inside ember-sandbox (see fleet_bench.sh). Ember boots a guest running guestfunc (a small
# working set) from a read-only rootfs, serial console only; at "FUNC READY" it is paused and
# Full-snapshotted. Then, per N and round, fleet_driver starts N ember processes (each its own
# --api-sock), sends each PUT /snapshot/load (File backend: every clone maps the one memory file
# MAP_PRIVATE through the page cache, resume_vm true) at once, each clone's stdin holding one
# request line, and reports when each clone printed its ANSWER and its smaps. The same again as
# "ember-ws", each clone's load also naming the working set that a first invocation recorded
# (ember-uffd-handler --record; mem_backend.working_set_path: the written pages copied, the rest
# mapped, before resume), run right after ember's round of the same N. QEMU's microvm then does the
# same from one migration file (-incoming exec:cat).
# Prints BOOT, SAVE, CLONE and FLEET lines (see fleet_driver.c).
# Usage: fleet_bench_in_vm.sh ROUNDS ANON_MIB "N..."
set -u
rounds=$1 anon_mib=$2
read -r -a sizes <<<"$3"
mib=128
func="/sbin/guestfunc $anon_mib /sbin/guestfunc"
args="console=ttyS0 panic=1 nomodule i8042.noaux i8042.nomux i8042.dumbkbd swiotlb=noforce quiet"
ember_boot_args="$args reboot=k ember.test=\\\"$func\\\""
qemu_append="$args reboot=t root=/dev/vda ro ember.test=\"$func\""
qemu_base=(qemu-system-x86_64 -L /usr/share/qemu -M microvm,acpi=off -accel kvm -cpu host
    -smp 1 -m "$mib" -nodefaults -no-user-config -display none -serial stdio -no-reboot
    -kernel bzImage -append "$qemu_append"
    -drive id=rootfs,file=rootfs.ext4,format=raw,if=none,readonly=on
    -device virtio-blk-device,drive=rootfs)

rm -f idle.fifo && mkfifo idle.fifo && exec 9<>idle.fifo
nap() { read -r -t "$1" -u 9 _; }
now_us() { local t=$EPOCHREALTIME; echo $((${t/./})); }
alive() {
    local state
    read -r _ _ state _ 2>/dev/null <"/proc/$1/stat" || return 1
    [[ $state != Z ]]
}
# wait_text FILE TEXT LIMIT_S: polls FILE (read with builtins, no forks) until a line holds TEXT;
# sets hit_us to when it was seen.
wait_text() {
    local deadline=$(($(now_us) + $3 * 1000000)) line partial=""
    exec 7<"$1"
    while (($(now_us) < deadline)); do
        while IFS= read -r line <&7; do
            line=$partial$line
            partial=""
            if [[ $line == *"$2"* ]]; then
                hit_us=$(now_us)
                exec 7<&-
                return 0
            fi
        done
        partial+=$line
        nap 0.005
    done
    exec 7<&-
    return 1
}
api() {   # api SOCK METHOD PATH [BODY]: fleet_driver's one request; sets status, sent_us, body
    local out
    out=$(fleet_driver api "$@")
    local head=${out%%$'\n'*}
    body=${out#*$'\n'}
    status=${head%% *}
    sent_us=${head#*sent_us=}
    sent_us=${sent_us%% *}
    [[ $status == 2* ]]
}
stop() {   # stop PID
    kill "$1" 2>/dev/null
    local _
    for _ in $(seq 1 100); do alive "$1" || break; nap 0.05; done
    kill -KILL "$1" 2>/dev/null
    wait "$1" 2>/dev/null
}

boot_ember() {   # boot_ember save|measure: a boot to FUNC READY, then (save) the snapshot
    local sock=$PWD/boot.sock
    rm -f "$sock"
    : >console-boot.txt
    # stdin a FIFO held open here: the guest's function waits on its console, not on EOF.
    rm -f boot-in.fifo && mkfifo boot-in.fifo && exec 8<>boot-in.fifo
    ember --api-sock "$sock" --level Warning <boot-in.fifo >console-boot.txt 2>ember-boot.stderr &
    local pid=$!
    local _
    for _ in $(seq 1 400); do [[ -S $sock ]] && break; nap 0.05; done
    api "$sock" PUT /machine-config "{\"vcpu_count\": 1, \"mem_size_mib\": $mib}" &&
        api "$sock" PUT /boot-source "{\"kernel_image_path\": \"bzImage\", \"boot_args\": \"$ember_boot_args\"}" &&
        api "$sock" PUT /drives/rootfs '{"drive_id": "rootfs", "path_on_host": "rootfs.ext4", "is_root_device": true, "is_read_only": true}' &&
        api "$sock" PUT /actions '{"action_type": "InstanceStart"}' ||
        { echo "BOOT vmm=ember error=$status:$body"; stop "$pid"; return 1; }
    local t0=$sent_us
    if ! wait_text console-boot.txt "FUNC READY" 300; then
        echo "BOOT vmm=ember error=no-func-ready"; tail -n 5 console-boot.txt; stop "$pid"; return 1
    fi
    echo "BOOT vmm=ember boot_ms=$(((hit_us - t0) / 1000))"
    if [[ $1 != save ]]; then
        stop "$pid"
        exec 8>&-
        return 0
    fi
    nap 0.5
    api "$sock" PATCH /vm '{"state": "Paused"}' || { echo "SAVE vmm=ember error=pause:$body"; stop "$pid"; return 1; }
    rm -f fleet.state fleet.mem
    local s0
    s0=$(now_us)
    api "$sock" PUT /snapshot/create '{"snapshot_type": "Full", "snapshot_path": "fleet.state", "mem_file_path": "fleet.mem"}' ||
        { echo "SAVE vmm=ember error=create:$body"; stop "$pid"; return 1; }
    echo "SAVE vmm=ember save_ms=$((($(now_us) - s0) / 1000)) mem_file_kib=$(du -k fleet.mem | cut -f1)"
    stop "$pid"
    exec 8>&-
}

# record_ember: a first invocation on a Uffd load with ember-uffd-handler --record: fleet.ws.
record_ember() {
    local sock=$PWD/record.sock hsock=$PWD/handler.sock
    rm -f "$sock" "$hsock" fleet.ws
    ember-uffd-handler --socket "$hsock" --mem-file fleet.mem --record "$PWD/fleet.ws" 2>handler.log &
    local handler_pid=$! _
    for _ in $(seq 1 400); do [[ -S $hsock ]] && break; nap 0.05; done
    : >console-record.txt
    rm -f record-in.fifo && mkfifo record-in.fifo && exec 8<>record-in.fifo
    ember --api-sock "$sock" --level Warning <record-in.fifo >console-record.txt 2>ember-record.stderr &
    local pid=$!
    for _ in $(seq 1 400); do [[ -S $sock ]] && break; nap 0.05; done
    api "$sock" PUT /snapshot/load "{\"snapshot_path\": \"fleet.state\", \"mem_backend\": {\"backend_type\": \"Uffd\", \"backend_path\": \"$hsock\"}, \"resume_vm\": true}" ||
        echo "RECORD error=load:$status:$body"
    echo "request" >&8
    wait_text console-record.txt "ANSWER" 300 || echo "RECORD error=no-answer"
    stop "$pid"
    exec 8>&-
    for _ in $(seq 1 200); do alive "$handler_pid" || break; nap 0.05; done
    stop "$handler_pid"
    echo "RECORD $(grep -h recorded handler.log) bytes=$(stat -c %s fleet.ws 2>/dev/null || echo none)"
    [[ -s fleet.ws ]]
}

fleet_ember() {   # fleet_ember ember|ember-ws N ROUND
    local ws=""
    [[ $1 == ember-ws ]] && ws=", \"working_set_path\": \"$PWD/fleet.ws\""
    echo "ROUND vmm=$1 n=$2 round=$3"
    fleet_driver fleet "$1" "$2" 600 fleet.mem "$PWD/clone{i}.sock" \
        "{\"snapshot_path\": \"fleet.state\", \"mem_backend\": {\"backend_type\": \"File\", \"backend_path\": \"fleet.mem\"$ws}, \"resume_vm\": true}" \
        -- ember --api-sock "$PWD/clone{i}.sock" --level Warning
    [[ $? == 0 ]] || tail -n 3 "fleet-$1-0.stderr"
}

# QEMU: boot, wait for FUNC READY, migrate while running to a file (the clones then start
# running as soon as their incoming migration completes, with no QMP `cont`).
boot_qemu() {
    rm -f qmp.in qmp.out && mkfifo qmp.in qmp.out
    : >console-qemu.txt
    rm -f qboot-in.fifo && mkfifo qboot-in.fifo && exec 8<>qboot-in.fifo
    local t0
    t0=$(now_us)
    "${qemu_base[@]}" -qmp pipe:qmp <qboot-in.fifo >console-qemu.txt 2>qemu-boot.stderr &
    local pid=$!
    exec 5<>qmp.in 6<>qmp.out
    local line
    echo '{"execute": "qmp_capabilities"}' >&5
    if ! wait_text console-qemu.txt "FUNC READY" 300; then
        echo "BOOT vmm=qemu error=no-func-ready"; tail -n 5 console-qemu.txt qemu-boot.stderr; stop "$pid"; return 1
    fi
    echo "BOOT vmm=qemu boot_ms=$(((hit_us - t0) / 1000)) (from launch)"
    nap 0.5
    rm -f qemu.state
    echo '{"execute": "migrate-set-parameters", "arguments": {"max-bandwidth": 107374182400}}' >&5
    echo '{"execute": "migrate", "arguments": {"uri": "exec:cat > qemu.state"}}' >&5
    local deadline=$(($(now_us) + 300000000)) done=0
    while (($(now_us) < deadline)); do
        echo '{"execute": "query-migrate"}' >&5
        while IFS= read -r -t 1 line <&6; do
            [[ $line == *'"status": "completed"'* ]] && done=1
            [[ $line == *'"status": "failed"'* ]] && done=2
        done
        ((done)) && break
        nap 0.2
    done
    echo "SAVE vmm=qemu status=$([[ $done == 1 ]] && echo completed || echo failed) state_kib=$(du -k qemu.state | cut -f1)"
    echo '{"execute": "quit"}' >&5
    stop "$pid"
    exec 5>&- 6<&- 8>&-
    [[ $done == 1 ]]
}

fleet_qemu() {   # fleet_qemu N ROUND
    echo "ROUND vmm=qemu n=$1 round=$2"
    fleet_driver fleet qemu "$1" 600 - - - -- "${qemu_base[@]}" -incoming "exec:cat qemu.state"
    [[ $? == 0 ]] || tail -n 3 fleet-qemu-0.stderr
}

echo "BENCH rounds=$rounds anon_mib=$anon_mib sizes=${sizes[*]} mib=$mib nproc=$(nproc) mode=${EMBER_SANDBOX_MODE:-?}"
if [[ ${SKIP_EMBER:-0} != 1 ]]; then
    for round in $(seq 2 "$rounds"); do boot_ember measure; done
fi
if [[ ${SKIP_EMBER:-0} != 1 ]] && boot_ember save; then
    variants=(ember)
    record_ember && variants+=(ember-ws)
    for n in "${sizes[@]}"; do
        for round in $(seq 1 "$rounds"); do
            for v in "${variants[@]}"; do fleet_ember "$v" "$n" "$round"; done
        done
    done
fi
if [[ ${SKIP_QEMU:-0} != 1 ]] && boot_qemu; then
    for n in "${sizes[@]}"; do
        for round in $(seq 1 "$rounds"); do fleet_qemu "$n" "$round"; done
    done
fi
echo "BENCH done"
