#!/bin/bash
# Shell helpers for the in-sandbox snapshot benchmarks (sourced): sleeping without forks, stamped
# console capture and reading, process checks, timed API requests over the Unix socket, starting
# and stopping ember and QEMU. Set bench_name before sourcing (it prefixes trace lines), and
# vmm_stdin (default /dev/null) to feed the guest's serial console, e.g. a FIFO the caller holds
# open.
bench_name=${bench_name:-bench}
vmm_stdin=${vmm_stdin:-/dev/null}

# `read -t` on a FIFO nobody writes is a sleep without forking (forks are slow under TCG).
rm -f idle.fifo && mkfifo idle.fifo && exec 9<>idle.fifo
nap() { read -r -t "$1" -u 9 _; }
now_us() { local t=$EPOCHREALTIME; echo $((${t/./})); }
bench_start=$(now_us)
ms_since() { echo $(( ($2 - $1) / 1000 )); }   # START_US END_US
# /proc/uptime has two decimals: centiseconds as an integer.
cs() { local s=${1%.*} f=${1#*.}; echo $((10#$s * 100 + 10#${f:0:2})); }

# stamp: every stdin line as "<epoch us> <line>" (CR removed) as soon as it arrives.
stamp() {
    local line t
    while IFS= read -r line; do
        t=$EPOCHREALTIME
        printf '%s %s\n' "${t/./}" "${line%$'\r'}"
    done
}

# stamp_into FILE: a stamper from console.fifo into FILE, in the background (the sandbox has no
# /dev/fd for process substitution); the VMM then writes its stdout to console.fifo.
stamp_into() {
    rm -f console.fifo
    mkfifo console.fifo
    stamp <console.fifo >"$1" &
    stamp_pid=$!
}

# Console reading: open_console FILE sets fd 7 to the start of FILE; next_line returns the next
# complete line in $line (or fails at the current end of the file).
partial=""
open_console() {
    exec 7<"$1"
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
# A child that has ended stays a zombie (state Z) until `wait`: kill -0 would still succeed.
alive() {
    local state
    read -r _ _ state _ 2>/dev/null <"/proc/$1/stat" || return 1
    [[ $state != Z ]]
}
wait_path() {   # wait_path TEST PATH LIMIT_S
    local deadline=$(($(now_us) + $3 * 1000000))
    until test "$1" "$2"; do
        (($(now_us) < deadline)) || return 1
        nap 0.002
    done
    return 0   # not the loop's status: that is the last nap's timeout
}
# stop_vmm: SIGTERM, then SIGKILL after 10 s; a process that outlives both is left behind
# (vmm_rc=stuck) rather than hanging the whole run.
stop_vmm() {
    local _
    trace "stop $vmm_pid"
    kill "$vmm_pid" 2>/dev/null
    for _ in $(seq 1 400); do alive "$vmm_pid" || break; nap 0.05; done
    if alive "$vmm_pid"; then
        echo "    $vmm_pid did not end on SIGTERM within 20 s: SIGKILL"
        kill -KILL "$vmm_pid" 2>/dev/null
        for _ in $(seq 1 200); do alive "$vmm_pid" || break; nap 0.05; done
    fi
    if alive "$vmm_pid"; then
        vmm_rc=stuck
        echo "    $vmm_pid survives SIGKILL (state $(cut -d' ' -f3 "/proc/$vmm_pid/stat")): left behind"
    else
        wait "$vmm_pid" 2>/dev/null
        vmm_rc=$?
    fi
    # The stamper ends at the console's EOF, unless some child of the VMM still holds it open.
    for _ in $(seq 1 40); do alive "$stamp_pid" || break; nap 0.05; done
    kill "$stamp_pid" 2>/dev/null
    wait "$stamp_pid" 2>/dev/null
    exec 7<&-
}
trace() { echo "$bench_name: +$(ms_since "$bench_start" "$(now_us)") ms: $*" >&2; }
log_tail() {   # log_tail FILE: the last lines of a log, indented, for failures
    echo "---- $1"
    tail -n "${2:-15}" "$1" 2>/dev/null | sed 's/^/    /'
}

# api METHOD PATH BODY: curl on $sock; sets status and took_ms (curl's own time for the request,
# without its process start) and body.
api() {
    local out
    out=$(curl -sS --max-time 300 --unix-socket "$sock" -X "$1" "http://localhost$2" \
        -H 'Content-Type: application/json' ${3:+--data "$3"} \
        -w $'\n%{http_code} %{time_total}') || { status=curl-failed; took_ms=0; body=""; return 1; }
    parse_answer "$out"
}

# A timed request, split so that curl's own start (most of a second under TCG) is not timed:
# api_begin METHOD PATH starts curl with its body coming from api.fifo and waits until curl
# blocks opening it; api_send BODY writes the body (curl then connects and sends at once) and
# sets api_t0; api_end waits for the answer and sets status, took_ms and body as api does.
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
    local rc=$? out
    out=$(<api.out)
    ((rc == 0)) || { status=curl-failed; took_ms=0; body=$out; return 1; }
    parse_answer "$out"
}
# parse_answer CURL_OUTPUT: the body, then "<http code> <time_total in s>" on the last line.
parse_answer() {
    local tail=${1##*$'\n'}
    body=${1%$'\n'*}
    status=${tail%% *}
    local t=${tail#* }
    local frac=${t#*.}000
    took_ms=$(( ${t%.*} * 1000 + 10#${frac:0:3} ))
    [[ $status == 2* ]]
}

start_ember() {   # start_ember TAG: ember --api-sock with console console-TAG.txt
    trace "start ember $1"
    sock=$PWD/$1.sock
    rm -f "$sock"
    : >"console-$1.txt"
    launch_us=$(now_us)
    stamp_into "console-$1.txt"
    ember --api-sock "$sock" --level Info --log-path "ember-$1.log" <"$vmm_stdin" \
        >console.fifo 2>"ember-$1.stderr" &
    vmm_pid=$!
    open_console "console-$1.txt"
    wait_path -S "$sock" 20
}
# wait_text REGEX LIMIT_S: reads the console until a line matches; sets hit_us and hit_line.
wait_text() {
    local deadline=$(($(now_us) + $2 * 1000000)) gone=0
    while :; do
        while next_line; do
            if [[ ${line#* } =~ $1 ]]; then
                hit_us=${line%% *} hit_line=${line#* }
                return 0
            fi
        done
        (($(now_us) < deadline)) || return 1
        if ! alive "$vmm_pid"; then ((++gone > 20)) && return 1; fi
        nap 0.005
    done
}

# ---- QEMU's microvm, for the side-by-side figures: the caller sets accel, qemu_cpu and
# qemu_append (the kernel command line). QMP goes over a pipe pair (busybox has no socat).
start_qemu() {   # start_qemu TAG VCPUS MIB [EXTRA ARGS...]
    local tag=$1 vcpus=$2 mib=$3
    shift 3
    trace "start qemu $tag"
    rm -f "qmp-$tag.in" "qmp-$tag.out"
    mkfifo "qmp-$tag.in" "qmp-$tag.out"
    : >"console-$tag.txt"
    launch_us=$(now_us)
    stamp_into "console-$tag.txt"
    qemu-system-x86_64 -L /usr/share/qemu -M microvm,acpi=off -accel "$accel" -cpu "$qemu_cpu" -smp "$vcpus" -m "$mib" \
        -nodefaults -no-user-config -display none -serial stdio -no-reboot \
        -kernel bzImage -append "$qemu_append" \
        -drive id=rootfs,file=rootfs.ext4,format=raw,if=none,readonly=on \
        -device virtio-blk-device,drive=rootfs -qmp "pipe:qmp-$tag" "$@" <"$vmm_stdin" \
        >console.fifo 2>"qemu-$tag.stderr" &
    vmm_pid=$!
    # Read-write opens of the FIFOs never block, whoever comes first.
    exec 5<>"qmp-$tag.in" 6<>"qmp-$tag.out"
    open_console "console-$tag.txt"
    qmp_line="" qmp_events=""
    qmp '{"execute": "qmp_capabilities"}'
    # MIGRATION events tell when a save or a load has ended, without polling.
    qmp '{"execute": "migrate-set-capabilities", "arguments": {"capabilities": [{"capability": "events", "state": true}]}}'
}
# qmp JSON: sends a command, waits (60 s at most) for its "return" or "error" line in $qmp_line.
# Events read meanwhile are kept in $qmp_events.
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
# qmp_migration_end LIMIT_S: waits for the MIGRATION event that ends a migration (events
# capability on); sets migration_status (completed, failed, ...) and end_us (when it was read).
qmp_migration_end() {
    local ev deadline=$(($(now_us) + $1 * 1000000))
    migration_status=timeout
    while (($(now_us) < deadline)); do
        if [[ $qmp_events =~ \"status\":\ \"(completed|failed|cancelled)\" ]]; then
            migration_status=${BASH_REMATCH[1]}
            end_us=$(now_us)
            return 0
        fi
        IFS= read -r -t "$1" ev <&6 || return 1
        [[ $ev == *'"event": "MIGRATION"'* ]] && qmp_events+=$ev$'\n'
    done
    return 1
}
stop_qemu() {
    trace "stop qemu"
    echo '{"execute": "quit"}' >&5
    local _
    for _ in $(seq 1 100); do alive "$vmm_pid" || break; nap 0.02; done
    stop_vmm
    exec 5>&- 6<&-
}
