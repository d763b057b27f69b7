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

# `read -t` on a FIFO nobody writes is a sleep without forking (forks are slow under TCG).
rm -f idle.fifo && mkfifo idle.fifo && exec 9<>idle.fifo
nap() { read -r -t "$1" -u 9 _; }
now_us() { local t=$EPOCHREALTIME; echo $((${t/./})); }
bench_start=$(now_us)
ms_since() { echo $(( ($2 - $1) / 1000 )); }
trace() { echo "first_answer_bench: +$(ms_since "$bench_start" "$(now_us)") ms: $*" >&2; }
log_tail() { echo "---- $1"; tail -n "${2:-15}" "$1" 2>/dev/null | sed 's/^/    /'; }

# stamp: every stdin line as "<epoch us> <line>" (CR removed) as soon as it arrives.
stamp() {
    local line t
    while IFS= read -r line; do
        t=$EPOCHREALTIME
        printf '%s %s\n' "${t/./}" "${line%$'\r'}"
    done
}
# open_vmm_io TAG: the console file console-TAG.txt filled by a stamper from console.fifo (the VMM
# writes its stdout there), read back on fd 7; the VMM's stdin is req.fifo, held open on fd 8.
open_vmm_io() {
    rm -f console.fifo req.fifo
    mkfifo console.fifo req.fifo
    : >"console-$1.txt"
    stamp <console.fifo >"console-$1.txt" &
    stamp_pid=$!
    exec 8<>req.fifo 7<"console-$1.txt"
    partial=""
}
next_line() {
    local chunk
    if IFS= read -r chunk <&7; then
        line=$partial$chunk
        partial=""
        return 0
    fi
    partial+=$chunk
    return 1
}
alive() {
    local state
    read -r _ _ state _ 2>/dev/null <"/proc/$1/stat" || return 1
    [[ $state != Z ]]
}
# wait_text GLOB LIMIT_S: reads the console until a line matches GLOB; sets hit_us and hit_text.
wait_text() {
    local glob=$1 deadline=$(($(now_us) + $2 * 1000000)) gone=0
    hit_us="" hit_text=""
    while :; do
        while next_line; do
            # shellcheck disable=SC2053
            if [[ ${line#* } == $glob ]]; then
                hit_us=${line%% *} hit_text=${line#* }
                return 0
            fi
        done
        (($(now_us) < deadline)) || return 1
        if ! alive "$vmm_pid"; then ((++gone > 20)) && return 1; fi
        nap 0.002
    done
}
wait_path() {
    local deadline=$(($(now_us) + $3 * 1000000))
    until test "$1" "$2"; do
        (($(now_us) < deadline)) || return 1
        nap 0.002
    done
    return 0
}
stop_vmm() {
    local _
    kill "$vmm_pid" 2>/dev/null
    for _ in $(seq 1 400); do alive "$vmm_pid" || break; nap 0.05; done
    alive "$vmm_pid" && kill -KILL "$vmm_pid" 2>/dev/null
    wait "$vmm_pid" 2>/dev/null
    for _ in $(seq 1 40); do alive "$stamp_pid" || break; nap 0.05; done
    kill "$stamp_pid" 2>/dev/null
    wait "$stamp_pid" 2>/dev/null
    exec 7<&- 8>&-
}

parse_answer() {
    local tail=${1##*$'\n'}
    body=${1%$'\n'*}
    status=${tail%% *}
    local t=${tail#* } frac
    frac=${t#*.}000
    took_ms=$(( ${t%.*} * 1000 + 10#${frac:0:3} ))
    [[ $status == 2* ]]
}
api() {
    local out
    out=$(curl -sS --max-time 300 --unix-socket "$sock" -X "$1" "http://localhost$2" \
        -H 'Content-Type: application/json' ${3:+--data "$3"} \
        -w $'\n%{http_code} %{time_total}') || { status=curl-failed; took_ms=0; body=""; return 1; }
    parse_answer "$out"
}
# A timed request without curl's own start (most of a second under TCG): api_begin starts curl
# waiting for its body on api.fifo; api_send writes it and sets api_t0; api_end collects.
api_begin() {
    rm -f api.fifo api.out
    mkfifo api.fifo
    curl -sS --max-time 300 --unix-socket "$sock" -X "$1" "http://localhost$2" \
        -H 'Content-Type: application/json' --data-binary @api.fifo \
        -w $'\n%{http_code} %{time_total}' >api.out 2>&1 &
    api_pid=$!
    local wchan="" deadline=$(($(now_us) + 10000000))
    while [[ $wchan != wait_for_partner ]] && (($(now_us) < deadline)) && alive "$api_pid"; do
        nap 0.005
        read -r wchan 2>/dev/null <"/proc/$api_pid/wchan"
    done
}
api_send() {
    exec 4>api.fifo
    api_t0=$(now_us)
    printf '%s' "$1" >&4
    exec 4>&-
}
api_end() {
    wait "$api_pid"
    local rc=$?
    ((rc == 0)) || { status=curl-failed; took_ms=0; body=$(<api.out); return 1; }
    parse_answer "$(<api.out)"
}

start_ember() {   # start_ember TAG
    trace "start ember $1"
    sock=$PWD/$1.sock
    rm -f "$sock"
    open_vmm_io "$1"
    ember --api-sock "$sock" --level Info --log-path "ember-$1.log" <&8 >console.fifo \
        2>"ember-$1.stderr" &
    vmm_pid=$!
    wait_path -S "$sock" 20
}
# report VMM BACKEND ROUND T0_US: waits for the ANSWER and prints the RESULT line.
report() {
    local answer_ms=none guest_us=none
    if wait_text 'ANSWER *' 120; then
        answer_ms=$(ms_since "$4" "$hit_us")
        guest_us=${hit_text##* }
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
    start_ember "$tag" || { echo "RESULT vmm=ember backend=boot error=no-api-socket"; stop_vmm; return 1; }
    ember_config || { echo "RESULT vmm=ember backend=boot error=config-$status:$body"; stop_vmm; return 1; }
    api_begin PUT /actions
    api_send '{"action_type": "InstanceStart"}'
    local t0=$api_t0
    api_end || { echo "RESULT vmm=ember backend=boot error=start-$status:$body"; stop_vmm; return 1; }
    if ! wait_text 'FUNC READY' 240; then
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
    local backend=$1 round=$2 path=fn.mem type=File handler_pid="" t0
    shift 2
    tag=ember-$backend-$round load_ms=none
    if [[ $backend != File ]]; then
        type=Uffd path=$PWD/uffd-$tag.sock
        ember-uffd-handler --socket "$path" --mem-file fn.mem "$@" 2>"uffd-$tag.log" &
        handler_pid=$!
        wait_path -S "$path" 20 || { echo "RESULT vmm=ember backend=$backend round=$round error=no-uffd-socket"; kill "$handler_pid"; return; }
    fi
    sock=$PWD/$tag.sock
    api_begin PUT /snapshot/load
    start_ember "$tag" || { echo "RESULT vmm=ember backend=$backend error=no-api-socket"; }
    api_send "{\"snapshot_path\": \"fn.state\", \"mem_backend\": {\"backend_type\": \"$type\", \"backend_path\": \"$path\"}, \"resume_vm\": true}"
    t0=$api_t0
    api_end
    load_ms=$(ms_since "$t0" "$(now_us)")
    if [[ $status == 204 ]]; then
        echo "request-$round" >&8
        report ember "$backend" "$round" "$t0"
    else
        echo "RESULT vmm=ember backend=$backend round=$round error=load-$status:$(echo "$body" | tr -d '\n' | cut -c1-200)"
    fi
    stop_vmm
    if [[ -n $handler_pid ]]; then
        local _
        for _ in $(seq 1 200); do alive "$handler_pid" || break; nap 0.05; done
        kill -KILL "$handler_pid" 2>/dev/null
        wait "$handler_pid" 2>/dev/null
        echo "HANDLER backend=$backend round=$round $(grep -h 'installed\|faults=\|recorded' "uffd-$tag.log" | tr '\n' ' ')"
    fi
}

# ---- QEMU: microvm, same kernel, rootfs and command line; QMP on a pipe pair.
start_qemu() {   # start_qemu TAG [EXTRA ARGS...]
    tag=$1
    shift
    trace "start qemu $tag"
    rm -f "qmp-$tag.in" "qmp-$tag.out"
    mkfifo "qmp-$tag.in" "qmp-$tag.out"
    open_vmm_io "$tag"
    launch_us=$(now_us)
    qemu-system-x86_64 -L /usr/share/qemu -M microvm,acpi=off -accel "$accel" -cpu "$qemu_cpu" \
        -smp "$vcpus" -m "$mib" -nodefaults -no-user-config -display none -serial stdio -no-reboot \
        -kernel bzImage -append "$qemu_append" \
        -drive id=rootfs,file=rootfs.ext4,format=raw,if=none,readonly=on \
        -device virtio-blk-device,drive=rootfs -qmp "pipe:qmp-$tag" "$@" <&8 \
        >console.fifo 2>"qemu-$tag.stderr" &
    vmm_pid=$!
    exec 5<>"qmp-$tag.in" 6<>"qmp-$tag.out"
    qmp_events=""
    qmp '{"execute": "qmp_capabilities"}'
    qmp '{"execute": "migrate-set-capabilities", "arguments": {"capabilities": [{"capability": "events", "state": true}]}}'
}
qmp() {
    local deadline=$(($(now_us) + 60000000))
    echo "$1" >&5
    while (($(now_us) < deadline)) && IFS= read -r -t 60 qmp_line <&6; do
        [[ $qmp_line == *'"return"'* ]] && return 0
        [[ $qmp_line == *'"error"'* ]] && return 1
        [[ $qmp_line == *'"event"'* ]] && qmp_events+=$qmp_line$'\n'
    done
    qmp_line="(no answer)"
    return 1
}
qmp_migration_end() {
    local ev deadline=$(($(now_us) + $1 * 1000000))
    migration_status=timeout
    while (($(now_us) < deadline)); do
        if [[ $qmp_events =~ \"status\":\ \"(completed|failed|cancelled)\" ]]; then
            migration_status=${BASH_REMATCH[1]}
            return 0
        fi
        IFS= read -r -t "$1" ev <&6 || return 1
        [[ $ev == *'"event": "MIGRATION"'* ]] && qmp_events+=$ev$'\n'
    done
    return 1
}
stop_qemu() {
    echo '{"execute": "quit"}' >&5
    local _
    for _ in $(seq 1 100); do alive "$vmm_pid" || break; nap 0.02; done
    stop_vmm
    exec 5>&- 6<&-
}

qemu_boot() {   # qemu_boot snapshot|ROUND
    load_ms=none
    start_qemu "qemu-boot-$1"
    local t0=$launch_us
    if ! wait_text 'FUNC READY' 240; then
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
    start_qemu "qemu-incoming-$1" -incoming defer
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
    ember_boot "$round"
    if [[ ${SKIP_QEMU:-0} != 1 ]]; then
        qemu_incoming "$round"
        qemu_boot "$round"
    fi
done
echo "BENCH done"
