#!/bin/bash
# Runs inside ember-sandbox (see restore_bench.sh): for each machine shape, boots a ticking guest
# with Ember over the API, pauses it and takes a Full snapshot, then restores it ROUNDS times with
# each memory backend (File, Uffd through ember-uffd-handler), rounds alternating; then the same guest in QEMU's
# microvm, saved by migration to a file and restored with -incoming. Prints one line per event:
#   BOOT    vmm=<ember|qemu> cfg=<vcpus>x<MiB> [engine=<Sync|Async>] init_ms=<..> tick_ms=<..>
#   SAVE    vmm=<..> cfg=<..> [engine=..] pause_ms=<..> save_ms=<..> ...
#   RESTORE vmm=<..> cfg=<..> [engine=..] backend=<File|Uffd|incoming> round=<n> resp_ms=<..> ...
# Ember runs once per root-drive io_engine (ENGINES, default "Sync Async"): the Async (io_uring)
# engine must add under 5% to restore time.
# Times come from bash's $EPOCHREALTIME; console lines are stamped as they arrive on the VMM's
# stdout. "tick" is the first TICK line whose guest uptime is past the last one seen before the
# save: the guest runs again. "none" means it did not happen within the time limit.
# Usage: restore_bench_in_vm.sh ROUNDS TICK_SECONDS CFG...   (CFG = VCPUSxMIB, e.g. 1x128)
# QEMU_ACCEL (default kvm), QEMU_CPU (default host) and SKIP_EMBER=1 / SKIP_QEMU=1 help develop it
# outside the sandbox.
set -u
rounds=$1 tick=$2
shift 2
cfgs=("$@")
read -r -a engines <<<"${ENGINES:-Sync Async}"
declare -A saved_at   # the last TICK uptime before each Ember snapshot (cfg-engine), in cs
accel=${QEMU_ACCEL:-kvm} qemu_cpu=${QEMU_CPU:-host}
tick_cmd="while true; do read u i </proc/uptime; echo TICK \$u; sleep $tick; done"
args="console=ttyS0 panic=1 nomodule i8042.noaux i8042.nomux i8042.dumbkbd swiotlb=noforce quiet"
# One read-only rootfs for every VM: nothing writes it, so every restore sees the saved disk.
qemu_append="$args reboot=t root=/dev/vda ro ember.test=\"$tick_cmd\""
ember_boot_args="$args reboot=k ember.test=\\\"$tick_cmd\\\""

# shellcheck source=bench_lib_in_vm.sh
bench_name=restore_bench
source "$(dirname "${BASH_SOURCE[0]}")/bench_lib_in_vm.sh"

# wait_console KIND LIMIT_S [MIN_CS]: reads the console until a line of KIND (init: the guest
# init marker; tick: a TICK line with uptime above MIN_CS) and sets hit_us and hit_cs.
# Fails after LIMIT_S seconds or when the VMM process $vmm_pid has ended.
wait_console() {
    local kind=$1 deadline=$(($(now_us) + $2 * 1000000)) min=${3:--1} text gone=0
    hit_us="" hit_cs=""
    while :; do
        while next_line; do
            text=${line#* }
            case "$kind:$text" in
                init:*EMBER-GUEST-INIT-OK*)
                    hit_us=${line%% *}
                    return 0
                    ;;
                tick:TICK\ [0-9]*)
                    hit_cs=$(cs "${text#TICK }")
                    if ((hit_cs > min)); then
                        hit_us=${line%% *}
                        return 0
                    fi
                    ;;
            esac
        done
        (($(now_us) < deadline)) || return 1
        # A VMM that has ended writes nothing more (the stamper may still hold a last line).
        if ! alive "$vmm_pid"; then
            ((++gone > 20)) && return 1
        fi
        nap 0.005
    done
}
# The uptime of the last TICK line so far (console of fd 7 read to its end), in $hit_cs/$hit_us.
last_tick() {
    while next_line; do
        case "${line#* }" in
            TICK\ [0-9]*) hit_cs=$(cs "${line#* TICK }"); hit_us=${line%% *} ;;
        esac
    done
}
bench_ember() {   # bench_ember CFG ENGINE: ENGINE is the root drive's io_engine (Sync or Async)
    local cfg=$1 engine=$2 vcpus=${1%x*} mib=${1#*x} tag="ember-$1-$2-boot" t0 init_us
    local snap=$cfg-$engine
    if ! start_ember "$tag"; then
        echo "BOOT vmm=ember cfg=$cfg engine=$engine error=no-api-socket"; log_tail "ember-$tag.stderr"; stop_vmm; return
    fi
    api PUT /machine-config "{\"vcpu_count\": $vcpus, \"mem_size_mib\": $mib}" &&
        api PUT /boot-source "{\"kernel_image_path\": \"bzImage\", \"boot_args\": \"$ember_boot_args\"}" &&
        api PUT /drives/rootfs '{"drive_id": "rootfs", "path_on_host": "rootfs.ext4", "is_root_device": true, "is_read_only": true, "io_engine": "'"$engine"'"}' ||
        { echo "BOOT vmm=ember cfg=$cfg engine=$engine error=config-$status:$body"; stop_vmm; return; }
    api_begin PUT /actions
    api_send '{"action_type": "InstanceStart"}'
    t0=$api_t0
    api_end ||
        { echo "BOOT vmm=ember cfg=$cfg engine=$engine error=start-$status:$body"; log_tail "ember-$tag.log"; stop_vmm; return; }
    if ! wait_console init 240; then
        echo "BOOT vmm=ember cfg=$cfg engine=$engine error=no-init-marker"; log_tail "console-$tag.txt"; log_tail "ember-$tag.log"
        stop_vmm; return
    fi
    init_us=$hit_us
    if ! wait_console tick 120; then
        echo "BOOT vmm=ember cfg=$cfg engine=$engine error=no-tick"; log_tail "console-$tag.txt"; stop_vmm; return
    fi
    echo "BOOT vmm=ember cfg=$cfg engine=$engine init_ms=$(ms_since "$t0" "$init_us") tick_ms=$(ms_since "$t0" "$hit_us") launch_tick_ms=$(ms_since "$launch_us" "$hit_us")"
    # Let it tick for a while (the shell loop and its pages warm), then pause and save.
    wait_console tick 60 $((hit_cs + 100)) || true
    api PATCH /vm '{"state": "Paused"}' ||
        { echo "SAVE vmm=ember cfg=$cfg engine=$engine error=pause-$status:$body"; stop_vmm; return; }
    local pause_ms=$took_ms
    nap 0.3   # a TICK written just before the pause reaches the console file
    last_tick
    saved_cs=$hit_cs
    saved_at[$snap]=$saved_cs
    rm -f "state-$snap.snap" "mem-$snap.snap"
    if api PUT /snapshot/create "{\"snapshot_type\": \"Full\", \"snapshot_path\": \"state-$snap.snap\", \"mem_file_path\": \"mem-$snap.snap\"}"; then
        echo "SAVE vmm=ember cfg=$cfg engine=$engine pause_ms=$pause_ms save_ms=$took_ms last_tick_uptime_cs=$saved_cs" \
            "state_bytes=$(stat -c %s "state-$snap.snap") mem_alloc_kib=$(du -k "mem-$snap.snap" | cut -f1)"
    else
        echo "SAVE vmm=ember cfg=$cfg engine=$engine error=create-$status:$(echo "$body" | tr -d '\n' | cut -c1-200)"
        stop_vmm
        echo "    ember exit status $vmm_rc"
        log_tail "ember-$tag.log"; log_tail "ember-$tag.stderr" 5
        return
    fi
    stop_vmm
}

restore_ember() {   # restore_ember CFG BACKEND ROUND ENGINE
    local cfg=$1 backend=$2 round=$3 engine=$4 tag="ember-$1-$4-$2-$3" path="mem-$1-$4.snap"
    local handler_pid="" t0 saved_cs=${saved_at[$1-$4]}
    if [[ $backend == Uffd ]]; then
        path=$PWD/uffd-$tag.sock
        ember-uffd-handler --socket "$path" --mem-file "mem-$cfg-$engine.snap" 2>"uffd-$tag.log" &
        handler_pid=$!
        wait_path -S "$path" 20 || { echo "RESTORE vmm=ember cfg=$cfg engine=$engine backend=$backend round=$round error=no-uffd-socket"; kill "$handler_pid"; return; }
    fi
    # curl is started first and waits for its body: an orchestrator's HTTP client is already up.
    sock=$PWD/$tag.sock
    api_begin PUT /snapshot/load
    if ! start_ember "$tag"; then
        echo "RESTORE vmm=ember cfg=$cfg engine=$engine backend=$backend round=$round error=no-api-socket"
        kill "$api_pid"; wait "$api_pid"
        stop_vmm; [[ -n $handler_pid ]] && { kill "$handler_pid"; wait "$handler_pid"; }; return
    fi
    local sock_ms
    sock_ms=$(ms_since "$launch_us" "$(now_us)")
    api_send "{\"snapshot_path\": \"state-$cfg-$engine.snap\", \"mem_backend\": {\"backend_type\": \"$backend\", \"backend_path\": \"$path\"}, \"resume_vm\": true}"
    t0=$api_t0
    api_end
    local resp_status=$status resp_ms=$took_ms resp_wall_ms
    resp_wall_ms=$(ms_since "$t0" "$(now_us)")
    local tick_ms=none launch_tick_ms=none uptime=none
    if [[ $resp_status == 204 ]] && wait_console tick 30 "$saved_cs"; then
        tick_ms=$(ms_since "$t0" "$hit_us")
        launch_tick_ms=$(ms_since "$launch_us" "$hit_us")
        uptime=$hit_cs
    fi
    echo "RESTORE vmm=ember cfg=$cfg engine=$engine backend=$backend round=$round status=$resp_status resp_ms=$resp_ms" \
        "resp_wall_ms=$resp_wall_ms tick_ms=$tick_ms launch_tick_ms=$launch_tick_ms socket_ms=$sock_ms" \
        "saved_uptime_cs=$saved_cs first_uptime_cs=$uptime"
    if [[ $tick_ms == none ]]; then
        echo "    load answer: $(echo "$body" | tr -d '\n' | cut -c1-300)"
        log_tail "ember-$tag.log"; log_tail "ember-$tag.stderr" 5; log_tail "console-$tag.txt" 5
        [[ -n $handler_pid ]] && log_tail "uffd-$tag.log" 5
        local t
        for t in /proc/$vmm_pid/task/*; do
            echo "    thread $(cat "$t/comm" 2>/dev/null): state $(cut -d' ' -f3 "$t/stat" 2>/dev/null) wchan $(cat "$t/wchan" 2>/dev/null)"
        done
    fi
    stop_vmm
    [[ $tick_ms == none ]] && echo "    ember exit status $vmm_rc"
    if [[ -n $handler_pid ]]; then
        # The handler ends with the VM's process; do not let a stuck one block the run.
        local _
        for _ in $(seq 1 100); do alive "$handler_pid" || break; nap 0.05; done
        kill -KILL "$handler_pid" 2>/dev/null
        wait "$handler_pid" 2>/dev/null
        [[ $round == 1 ]] && echo "    $(tail -n 1 "uffd-$tag.log")"
    fi
}

# ---- QEMU: microvm, same kernel, rootfs and command line (bench_lib_in_vm.sh's start_qemu);
# save by migration to a file through exec:, restore with -incoming.
bench_qemu() {
    local cfg=$1 vcpus=${1%x*} mib=${1#*x} tag="qemu-$1-boot" t0 init_us
    start_qemu "$tag" "$vcpus" "$mib"
    t0=$launch_us
    if ! wait_console init 240; then
        echo "BOOT vmm=qemu cfg=$cfg error=no-init-marker"; log_tail "console-$tag.txt"; log_tail "qemu-$tag.stderr"
        stop_qemu; return
    fi
    init_us=$hit_us
    if ! wait_console tick 120; then
        echo "BOOT vmm=qemu cfg=$cfg error=no-tick"; log_tail "console-$tag.txt"; stop_qemu; return
    fi
    echo "BOOT vmm=qemu cfg=$cfg init_ms=$(ms_since "$t0" "$init_us") tick_ms=$(ms_since "$t0" "$hit_us") launch_tick_ms=$(ms_since "$t0" "$hit_us")"
    wait_console tick 60 $((hit_cs + 100)) || true
    # Saving to a local file: lift QEMU's default migration bandwidth cap, as libvirt's save does.
    qmp '{"execute": "migrate-set-parameters", "arguments": {"max-bandwidth": 107374182400}}'
    t0=$(now_us)
    qmp '{"execute": "stop"}'
    local pause_ms
    pause_ms=$(ms_since "$t0" "$(now_us)")
    nap 0.3
    last_tick
    saved_q_cs=$hit_cs
    rm -f "qemu-$cfg.state"
    t0=$(now_us)
    qmp_events="" end_us=$t0 migration_status=none
    qmp "{\"execute\": \"migrate\", \"arguments\": {\"uri\": \"exec:cat > qemu-$cfg.state\"}}" &&
        qmp_migration_end 600
    local save_ms total=n/a
    save_ms=$(ms_since "$t0" "$end_us")
    qmp '{"execute": "query-migrate"}'
    [[ $qmp_line =~ \"total-time\":\ ([0-9]+) ]] && total=${BASH_REMATCH[1]}
    if [[ $migration_status == completed ]]; then
        echo "SAVE vmm=qemu cfg=$cfg pause_ms=$pause_ms save_ms=$save_ms qemu_total_time_ms=$total" \
            "last_tick_uptime_cs=$saved_q_cs state_bytes=$(stat -c %s "qemu-$cfg.state")"
    else
        echo "SAVE vmm=qemu cfg=$cfg error=migration-$migration_status: $qmp_line"
        stop_qemu; return
    fi
    stop_qemu
    local round
    for round in $(seq 1 "$rounds"); do
        tag="qemu-$cfg-incoming-$round"
        # As libvirt restores: -incoming defer, the events capability, migrate-incoming, and
        # `cont` at the end (a guest saved while stopped stays paused after the load).
        start_qemu "$tag" "$vcpus" "$mib" -incoming defer
        local tick_ms=none uptime=none loaded_ms=none
        migration_status=none
        if qmp "{\"execute\": \"migrate-incoming\", \"arguments\": {\"uri\": \"exec:cat qemu-$cfg.state\"}}" &&
            qmp_migration_end 300 && [[ $migration_status == completed ]] && qmp '{"execute": "cont"}'; then
            loaded_ms=$(ms_since "$launch_us" "$end_us")
            if wait_console tick 120 "$saved_q_cs"; then
                tick_ms=$(ms_since "$launch_us" "$hit_us")
                uptime=$hit_cs
            fi
        fi
        echo "RESTORE vmm=qemu cfg=$cfg backend=incoming round=$round loaded_ms=$loaded_ms" \
            "launch_tick_ms=$tick_ms tick_ms=$tick_ms saved_uptime_cs=$saved_q_cs first_uptime_cs=$uptime"
        [[ $loaded_ms == none ]] && echo "    qmp: $qmp_line ${qmp_events//$'\n'/ }"
        [[ $tick_ms == none ]] && { log_tail "console-$tag.txt" 5; log_tail "qemu-$tag.stderr" 5; }
        stop_qemu
    done
}

echo "BENCH rounds=$rounds tick=$tick cfgs=${cfgs[*]} engines=${engines[*]} mode=${EMBER_SANDBOX_MODE:-?} nproc=$(nproc)"
for cfg in "${cfgs[@]}"; do
    if [[ ${SKIP_EMBER:-0} != 1 ]]; then
        for engine in "${engines[@]}"; do bench_ember "$cfg" "$engine"; done
        # Rounds alternate engines and backends, so that a drift of the sandbox hits all alike.
        for round in $(seq 1 "$rounds"); do
            for backend in File Uffd; do
                for engine in "${engines[@]}"; do
                    [[ -f "mem-$cfg-$engine.snap" ]] && restore_ember "$cfg" "$backend" "$round" "$engine"
                done
            done
        done
        [[ -n ${KEEP:-} ]] || rm -f mem-"$cfg"-*.snap   # tmpfs space for the next shape
    fi
    [[ ${SKIP_QEMU:-0} == 1 ]] || bench_qemu "$cfg"
    [[ -n ${KEEP:-} ]] || rm -f "qemu-$cfg.state"   # tmpfs space for the next shape
done
echo "BENCH done"
