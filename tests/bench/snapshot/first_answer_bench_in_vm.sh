#!/bin/bash
# Runs inside ember-sandbox (see first_answer_bench.sh). The guest runs guestfunc (FUNC_ARGS, e.g.
# "16 /root/data 4") on its serial console. Ember boots it, pauses it at "FUNC READY" and takes a
# Full snapshot; QEMU's microvm boots the same kernel, rootfs and command line and saves it by
# migration to a file at the same point. A first Uffd load with `ember-uffd-handler --record`
# answers one request and leaves the working-set record. Then ROUNDS rounds, alternating:
#   boot      Ember: InstanceStart -> ANSWER of a fresh boot (the request sent at FUNC READY)
#   File      Ember load, File backend
#   Uffd      Ember load, Uffd backend, faults served lazily
#   UffdWS    Ember load, Uffd backend, the recorded working set installed first (--prefetch)
#   FileWS    Ember load, File backend, the same record as mem_backend.working_set_path: the
#             pages it marks written copied, the others mapped, before the VM resumes
#   qboot     QEMU: launch -> ANSWER of a fresh boot
#   incoming  QEMU launched with -incoming defer: migrate-incoming -> ANSWER
# A load is timed from the load request (PUT /snapshot/load with resume_vm, resp. QMP
# migrate-incoming) to the guest's "ANSWER" line on the console; the request line goes to the
# VMM's stdin (its serial console) as soon as the load has answered (QEMU: after `cont`). The
# VMM and the handler are started before the clock starts, as a platform keeps them ready.
# Prints one line per measurement:
#   RESULT vmm=<ember|qemu> backend=<..> round=<n> answer_ms=<..> load_ms=<..> guest_us=<..>
# Usage: first_answer_bench_in_vm.sh ROUNDS VCPUS MIB FUNC_ARGS
set -u
rounds=$1 vcpus=$2 mib=$3 func_args=$4
accel=${QEMU_ACCEL:-kvm} qemu_cpu=${QEMU_CPU:-host}
func_cmd="/sbin/guestfunc $func_args"
args="console=ttyS0 panic=1 nomodule i8042.noaux i8042.nomux i8042.dumbkbd swiotlb=noforce quiet"
qemu_append="$args reboot=t root=/dev/vda ro ember.test=\"$func_cmd\""
ember_boot_args="$args reboot=k ember.test=\\\"$func_cmd\\\""

# The guest's serial input: one FIFO this shell holds open on fd 8 (so no VMM ever reads its end),
# the request lines written there. drain_requests drops a line a VMM that ended early left unread,
# so that the next VMM's guest reads only its own request.
rm -f req.fifo && mkfifo req.fifo && exec 8<>req.fifo
vmm_stdin=req.fifo
bench_name=first_answer_bench
# shellcheck source=bench_lib_in_vm.sh
source "$(dirname "${BASH_SOURCE[0]}")/bench_lib_in_vm.sh"
drain_requests() { while read -r -t 0.01 -u 8 _; do :; done; }

# report VMM BACKEND ROUND T0_US: waits for the ANSWER and prints the RESULT line.
report() {
    local answer_ms=none guest_us=none
    if wait_text '^ANSWER ' 120; then
        answer_ms=$(ms_since "$4" "$hit_us")
        guest_us=${hit_line##* }
    fi
    echo "RESULT vmm=$1 backend=$2 round=$3 answer_ms=$answer_ms load_ms=${load_ms:-none} guest_us=$guest_us"
    [[ $answer_ms == none ]] && { log_tail "console-$tag.txt" 8; log_tail "ember-$tag.log" 8; }
}

ember_config() {
    api PUT /machine-config "{\"vcpu_count\": $vcpus, \"mem_size_mib\": $mib}" &&
        api PUT /boot-source "{\"kernel_image_path\": \"bzImage\", \"boot_args\": \"$ember_boot_args\"}" &&
        api PUT /drives/rootfs '{"drive_id": "rootfs", "path_on_host": "rootfs.ext4", "is_root_device": true, "is_read_only": true}'
}

# Boots, waits for FUNC READY; with `snapshot`, pauses and saves, else times the first answer.
ember_boot() {   # ember_boot snapshot|ROUND
    tag=ember-boot-$1 load_ms=none
    drain_requests
    start_ember "$tag" || { echo "RESULT vmm=ember backend=boot error=no-api-socket"; stop_vmm; return 1; }
    ember_config || { echo "RESULT vmm=ember backend=boot error=config-$status:$body"; stop_vmm; return 1; }
    api_begin PUT /actions
    api_send '{"action_type": "InstanceStart"}'
    local t0=$api_t0
    api_end || { echo "RESULT vmm=ember backend=boot error=start-$status:$body"; stop_vmm; return 1; }
    if ! wait_text '^FUNC READY' 240; then
        echo "RESULT vmm=ember backend=boot error=no-func-ready"; log_tail "console-$tag.txt"; stop_vmm; return 1
    fi
    if [[ $1 == snapshot ]]; then
        echo "READY vmm=ember ready_ms=$(ms_since "$t0" "$hit_us")"
        nap 0.5   # guestfunc is back in fgets
        api PATCH /vm '{"state": "Paused"}' &&
            api PUT /snapshot/create '{"snapshot_type": "Full", "snapshot_path": "fn.state", "mem_file_path": "fn.mem"}' ||
            { echo "SAVE vmm=ember error=$status:$body"; stop_vmm; return 1; }
        echo "SAVE vmm=ember save_ms=$took_ms mem_alloc_kib=$(du -k fn.mem | cut -f1)"
    else
        echo "request-$1" >&8
        report ember boot "$1" "$t0"
    fi
    stop_vmm
}

# ember_load BACKEND ROUND [HANDLER ARGS...]: a fresh ember loads fn.state and answers a request.
ember_load() {
    local backend=$1 round=$2 path=fn.mem type=File handler_pid="" t0 ws=""
    shift 2
    tag=ember-$backend-$round load_ms=none
    if [[ $backend == FileWS ]]; then
        ws=", \"working_set_path\": \"$PWD/fn.ws\""
    elif [[ $backend != File ]]; then
        type=Uffd path=$PWD/uffd-$tag.sock
        ember-uffd-handler --socket "$path" --mem-file fn.mem "$@" 2>"uffd-$tag.log" &
        handler_pid=$!
        wait_path -S "$path" 20 || { echo "RESULT vmm=ember backend=$backend round=$round error=no-uffd-socket"; kill "$handler_pid"; return; }
    fi
    sock=$PWD/$tag.sock
    api_begin PUT /snapshot/load
    drain_requests
    start_ember "$tag" || { echo "RESULT vmm=ember backend=$backend error=no-api-socket"; }
    api_send "{\"snapshot_path\": \"fn.state\", \"mem_backend\": {\"backend_type\": \"$type\", \"backend_path\": \"$path\"$ws}, \"resume_vm\": true}"
    t0=$api_t0
    api_end
    load_ms=$(ms_since "$t0" "$(now_us)")
    if [[ $status == 204 ]]; then
        echo "request-$round" >&8
        report ember "$backend" "$round" "$t0"
    else
        echo "RESULT vmm=ember backend=$backend round=$round error=load-$status:$(echo "$body" | tr -d '\n' | cut -c1-200)"
    fi
    [[ -z $ws ]] || echo "POPULATE round=$round $(grep -h -o 'Working set .*' "ember-$tag.log" | head -1)"
    stop_vmm
    if [[ -n $handler_pid ]]; then
        local _
        for _ in $(seq 1 200); do alive "$handler_pid" || break; nap 0.05; done
        kill -KILL "$handler_pid" 2>/dev/null
        wait "$handler_pid" 2>/dev/null
        echo "HANDLER backend=$backend round=$round $(grep -h 'installed\|faults=\|recorded' "uffd-$tag.log" | tr '\n' ' ')"
    fi
}

# ---- QEMU: microvm, same kernel, rootfs and command line (bench_lib_in_vm.sh's start_qemu).
qemu_boot() {   # qemu_boot snapshot|ROUND
    load_ms=none tag=qemu-boot-$1
    drain_requests
    start_qemu "$tag" "$vcpus" "$mib"
    local t0=$launch_us
    if ! wait_text '^FUNC READY' 240; then
        echo "RESULT vmm=qemu backend=qboot error=no-func-ready"; log_tail "console-$tag.txt"; log_tail "qemu-$tag.stderr"
        stop_qemu; return 1
    fi
    if [[ $1 == snapshot ]]; then
        echo "READY vmm=qemu ready_ms=$(ms_since "$t0" "$hit_us")"
        nap 0.5
        qmp '{"execute": "migrate-set-parameters", "arguments": {"max-bandwidth": 107374182400}}'
        qmp '{"execute": "stop"}'
        qmp_events=""
        local s0
        s0=$(now_us)
        if qmp '{"execute": "migrate", "arguments": {"uri": "exec:cat > fn.qemu"}}' &&
            qmp_migration_end 600 && [[ $migration_status == completed ]]; then
            echo "SAVE vmm=qemu save_ms=$(ms_since "$s0" "$(now_us)") state_bytes=$(stat -c %s fn.qemu)"
        else
            echo "SAVE vmm=qemu error=migration-$migration_status: $qmp_line"
            stop_qemu; return 1
        fi
    else
        echo "request-$1" >&8
        report qemu qboot "$1" "$t0"
    fi
    stop_qemu
}

qemu_incoming() {   # qemu_incoming ROUND
    tag=qemu-incoming-$1
    drain_requests
    start_qemu "$tag" "$vcpus" "$mib" -incoming defer
    local t0
    t0=$(now_us)
    load_ms=none
    migration_status=none
    if qmp '{"execute": "migrate-incoming", "arguments": {"uri": "exec:cat fn.qemu"}}' &&
        qmp_migration_end 300 && [[ $migration_status == completed ]] && qmp '{"execute": "cont"}'; then
        load_ms=$(ms_since "$t0" "$(now_us)")
        echo "request-$1" >&8
        report qemu incoming "$1" "$t0"
    else
        echo "RESULT vmm=qemu backend=incoming round=$1 error=migration-$migration_status: $qmp_line"
    fi
    stop_qemu
}

echo "BENCH rounds=$rounds shape=${vcpus}x$mib func=\"$func_args\" mode=${EMBER_SANDBOX_MODE:-?} nproc=$(nproc)"
ember_boot snapshot || { echo "BENCH done"; exit 1; }
[[ ${SKIP_QEMU:-0} == 1 ]] || qemu_boot snapshot || SKIP_QEMU=1
# The first invocation after a load records the working set (ember ends with SIGTERM: the
# handler writes the record when the VM's process is gone).
ember_load Uffd record --record "$PWD/fn.ws"
echo "RECORD bytes=$(stat -c %s fn.ws 2>/dev/null || echo none)"
for round in $(seq 1 "$rounds"); do
    ember_load File "$round"
    ember_load Uffd "$round"
    ember_load UffdWS "$round" --prefetch "$PWD/fn.ws"
    ember_load FileWS "$round"
    ember_boot "$round"
    if [[ ${SKIP_QEMU:-0} != 1 ]]; then
        qemu_incoming "$round"
        qemu_boot "$round"
    fi
done
echo "BENCH done"
