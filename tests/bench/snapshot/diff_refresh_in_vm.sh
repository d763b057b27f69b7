#!/bin/bash
# Runs inside ember-sandbox (see diff_refresh_bench.sh). For each machine shape: boots a guest
# running guestfunc, takes the warm Full snapshot at "FUNC READY" (the base), then ROUNDS times:
# a clone loads the base (File backend), answers one request, is paused, and takes a Diff snapshot
# and then, for comparison, a Full one; the diff is merged onto a copy of the base
# (ember-snapshot merge-diff), which refreshes the warm snapshot. In round 1 a new clone loads the
# refreshed snapshot and must answer as the second invocation ("ANSWER 2"). Prints:
#   BASE  cfg=<vcpus>x<MiB> boot_ms=<..> save_ms=<..>
#   ROUND cfg=.. track=<true|false> round=<n> diff_ms=.. full_ms=.. diff_kib=.. full_kib=..
#         merge_ms=.. [verify=ok|failed]
# track: the clone's track_dirty_pages (KVM's dirty log) or not (pages from /proc/self/pagemap).
# Usage: diff_refresh_in_vm.sh ROUNDS CFG...   (CFG = VCPUSxMIB); TRACKS (default "true false").
set -u
rounds=$1
shift
cfgs=("$@")
read -r -a tracks <<<"${TRACKS:-true false}"
args="console=ttyS0 panic=1 nomodule i8042.noaux i8042.nomux i8042.dumbkbd swiotlb=noforce quiet"
func_cmd="/sbin/guestfunc ${FUNC_ANON_MIB:-16} /etc/func.data"
boot_args="$args reboot=k ember.test=\\\"$func_cmd\\\""

# The guest's serial input: a FIFO this shell keeps open, so ember never reads its end.
rm -f serial.fifo && mkfifo serial.fifo && exec 8<>serial.fifo
vmm_stdin=serial.fifo
# shellcheck source=bench_lib_in_vm.sh
bench_name=diff_refresh
source "$(dirname "${BASH_SOURCE[0]}")/bench_lib_in_vm.sh"

fail_round() { echo "$1 error=$2"; log_tail "console-$3.txt" 5; log_tail "ember-$3.log" 8; stop_vmm; }
snapshot() {   # snapshot TYPE STATE MEM: took_ms
    api PUT /snapshot/create "{\"snapshot_type\": \"$1\", \"snapshot_path\": \"$2\", \"mem_file_path\": \"$3\"}"
}
kib() { du -k "$1" | cut -f1; }

base() {   # base CFG: boots the function and saves base-CFG.{state,mem}
    local cfg=$1 vcpus=${1%x*} mib=${1#*x} tag="base-$1" t0
    start_ember "$tag" || { fail_round "BASE cfg=$cfg" no-api-socket "$tag"; return 1; }
    api PUT /machine-config "{\"vcpu_count\": $vcpus, \"mem_size_mib\": $mib}" &&
        api PUT /boot-source "{\"kernel_image_path\": \"bzImage\", \"boot_args\": \"$boot_args\"}" &&
        api PUT /drives/rootfs '{"drive_id": "rootfs", "path_on_host": "rootfs.ext4", "is_root_device": true, "is_read_only": true}' ||
        { fail_round "BASE cfg=$cfg" "config-$status:$body" "$tag"; return 1; }
    t0=$(now_us)
    api PUT /actions '{"action_type": "InstanceStart"}' || { fail_round "BASE cfg=$cfg" "start-$status" "$tag"; return 1; }
    wait_text '^FUNC READY' 300 || { fail_round "BASE cfg=$cfg" no-func-ready "$tag"; return 1; }
    local boot_ms
    boot_ms=$(ms_since "$t0" "$hit_us")
    api PATCH /vm '{"state": "Paused"}' || { fail_round "BASE cfg=$cfg" "pause-$status" "$tag"; return 1; }
    snapshot Full "base-$cfg.state" "base-$cfg.mem" || { fail_round "BASE cfg=$cfg" "save-$status:$body" "$tag"; return 1; }
    echo "BASE cfg=$cfg boot_ms=$boot_ms save_ms=$took_ms mem_kib=$(kib "base-$cfg.mem")"
    stop_vmm
}

# load_and_answer TAG STATE MEM TRACK N: a new ember loads STATE/MEM (File) and resumes; the guest
# gets one request and must print "ANSWER N".
load_and_answer() {
    start_ember "$1" || return 1
    api PUT /snapshot/load "{\"snapshot_path\": \"$2\", \"mem_backend\": {\"backend_type\": \"File\", \"backend_path\": \"$3\"}, \"track_dirty_pages\": $4, \"resume_vm\": true}" ||
        return 1
    echo "request-$1" >&8
    wait_text "^ANSWER $5 " 120
}

round() {   # round CFG TRACK N
    local cfg=$1 track=$2 n=$3 tag="clone-$1-$2-$3" head="ROUND cfg=$1 track=$2 round=$3"
    rm -f diff.state diff.mem full.state full.mem refreshed.mem
    load_and_answer "$tag" "base-$cfg.state" "base-$cfg.mem" "$track" 1 ||
        { fail_round "$head" "load-or-answer-$status" "$tag"; return; }
    api PATCH /vm '{"state": "Paused"}' || { fail_round "$head" "pause-$status" "$tag"; return; }
    snapshot Diff diff.state diff.mem || { fail_round "$head" "diff-$status:$body" "$tag"; return; }
    local diff_ms=$took_ms
    snapshot Full full.state full.mem || { fail_round "$head" "full-$status:$body" "$tag"; return; }
    local full_ms=$took_ms
    stop_vmm
    # A sparse copy of the base (busybox cp has no --sparse): its data extents onto an empty file.
    truncate -s "$(stat -c %s "base-$cfg.mem")" refreshed.mem &&
        ember-snapshot merge-diff refreshed.mem "base-$cfg.mem" >/dev/null 2>merge.err ||
        { echo "$head error=copy-base:$(head -c 200 merge.err)"; return; }
    local t0 merge_ms verify=""
    t0=$(now_us)
    ember-snapshot merge-diff refreshed.mem diff.mem >/dev/null 2>merge.err ||
        { echo "$head error=merge:$(head -c 200 merge.err)"; return; }
    merge_ms=$(ms_since "$t0" "$(now_us)")
    if ((n == 1)); then
        verify=failed
        load_and_answer "refreshed-$cfg-$track" diff.state refreshed.mem false 2 && verify=ok
        [[ $verify == ok ]] || { log_tail "console-refreshed-$cfg-$track.txt" 5; log_tail "ember-refreshed-$cfg-$track.log" 5; }
        stop_vmm
    fi
    echo "$head diff_ms=$diff_ms full_ms=$full_ms diff_kib=$(kib diff.mem) full_kib=$(kib full.mem)" \
        "merge_ms=$merge_ms${verify:+ verify=$verify}"
}

echo "BENCH rounds=$rounds cfgs=${cfgs[*]} tracks=${tracks[*]} mode=${EMBER_SANDBOX_MODE:-?} nproc=$(nproc)"
for cfg in "${cfgs[@]}"; do
    base "$cfg" || continue
    for n in $(seq 1 "$rounds"); do
        for track in "${tracks[@]}"; do round "$cfg" "$track" "$n"; done
    done
    rm -f "base-$cfg.mem"   # tmpfs space for the next shape
done
echo "BENCH done"
