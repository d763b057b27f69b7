#!/bin/bash
# Runs inside ember-sandbox; see snapshot_test.sh. A guest counts (count_guest.sh: every count to
# its data drive, then to the console); it is snapshotted and restored in new ember processes:
#   1. create needs a paused VM; Full snapshot of the booted guest, then its ember is killed
#   2. File backend, track_dirty_pages, eth0 moved to another tap: the count and the uptime go on,
#      no boot output, pings answer, the data drive holds every count once and in order
#   3. the same with the Uffd backend served by ember-uffd-handler
#   4. Full snapshot of the restored VM, more counting, a Diff snapshot merged onto a copy of the
#      Full memory file with ember-snapshot: the restore continues from the diff point
#   5. two VMs restored from one snapshot run side by side
#   6. a corrupt state file and a load after configuration are refused with 400
#   7. a guest on 2 MiB hugetlb pages (huge_pages 2M): its snapshot restores with the File backend
#      on 4 KiB pages (with a warning) from a regular memory file, onto 2 MiB pages from a memory
#      file on hugetlbfs, and with Uffd onto hugetlb pages again, counting on
# Prints one "ok:" line per check, TIMING lines, and SNAPSHOT-TEST-PASS at the end; exits non-zero
# on the first failure.
# Part "restore" runs 1 to 6, part "huge-pages" runs 7, each in a sandbox of its own: a 2M guest
# that hangs or crashes the outer VM (seen in CI and once here) then costs its own run, not all six.
# Usage: snapshot_in_vm.sh KERNEL ROOTFS COUNT_GUEST_SCRIPT restore|huge-pages
set -u
part=$4
[[ $part == restore || $part == huge-pages ]] || { echo "FAIL: unknown part '$part'"; exit 2; }
kernel=$PWD/$1
rootfs_orig=$PWD/$2
count_script=$PWD/$3
top=$PWD
snap=$top/snap
ember_pids=()
current=""  # the directory of the VM the API calls go to (its console.txt, ember.log)

fail() {
    echo "FAIL: $*"
    if [[ -n "$current" ]]; then
        echo "---- $current/console.txt (last 30 lines)"
        tail -n 30 "$current/console.txt" 2>/dev/null
        echo "---- $current/ember.log (last 30 lines)"
        tail -n 30 "$current/ember.log" 2>/dev/null
        echo "---- $current/data.img (last 3 records)"
        tr -d '\0' <"$current/data.img" 2>/dev/null | tail -n 3
    fi
    for pid in "${ember_pids[@]}"; do kill -9 "$pid" 2>/dev/null; done
    exit 1
}
source "$(dirname "$0")/api_client.sh"

now_ms() { local t=$EPOCHREALTIME; echo $(( ${t/./} / 1000 )); }
# The counts on a console file, one a line.
counts() { tr -d '\r' <"$1" 2>/dev/null | sed -n 's/^COUNT=\([0-9]*\) UP=.*/\1/p'; }
last_count() { counts "$1" | tail -n 1; }
# The uptime printed with count N on a console file.
uptime_of() { tr -d '\r' <"$1" | sed -n "s/^COUNT=$2 UP=\([0-9.]*\).*/\1/p" | head -n 1; }
count_lines() { counts "$1" | wc -l; }
has_counts() { (($(count_lines "$1") >= $2)); }

# start_ember DIR: a new ember with its API socket in DIR, run in DIR (the drives' relative paths
# resolve there). Sets $sock, $pid, $current.
start_ember() {
    current=$1
    sock=$current/api.sock
    rm -f "$sock"
    (cd "$current" && exec ember --api-sock "$sock" --level Info \
        </dev/null >console.txt 2>ember.log) &
    pid=$!
    ember_pids+=("$pid")
    wait_for 10 test -S "$sock" || fail "the API socket of $current never appeared"
}

# stop_ember PID: SIGKILL, then reap it.
stop_ember() {
    kill -9 "$1" 2>/dev/null
    wait "$1" 2>/dev/null
}

make_tap() {  # make_tap NAME HOST_IP
    ip tuntap add dev "$1" mode tap || fail "cannot create $1"
    ip addr add "$2/24" dev "$1"
    ip link set "$1" up
}

# ping_via TAP: the guest (172.16.0.2 in every VM here) answers through TAP.
ping_via() {
    ping -I "$1" -c 3 -W 5 172.16.0.2 >"$top/ping-$1.txt" 2>&1 ||
        { cat "$top/ping-$1.txt"; fail "the guest does not answer pings through $1"; }
}

# check_disk DIR: DIR/data.img holds records 0..M-1 in order (each `COUNT=i UP=t`, t never going
# back) and nothing after them; M-1 is at least the last count on DIR/console.txt.
check_disk() {
    local dir=$1 summary last
    summary=$(tr -d '\0' <"$dir/data.img" | awk '
        { if ($0 !~ /^COUNT=[0-9]+ UP=[0-9.]+ *$/) { print "bad record " NR - 1 ": " $0; exit 1 }
          split($1, c, "="); split($2, u, "=")
          if (c[2] != NR - 1) { print "record " NR - 1 " holds count " c[2]; exit 1 }
          if (u[2] + 0 < up) { print "uptime goes back at record " NR - 1; exit 1 }
          up = u[2] + 0 }
        END { print NR }') || fail "$dir/data.img is inconsistent: $summary"
    last=$(last_count "$dir/console.txt")
    ((summary - 1 >= last)) ||
        fail "$dir/data.img has $summary records, the console counted to $last"
    ok "$dir/data.img: records 0..$((summary - 1)) consecutive, uptime never going back" \
        "(console last $last)"
}

# wait_restored DIR N_BEFORE UP_BEFORE LOAD_START_MS: the restored console's first count is
# N_BEFORE+1..N_BEFORE+3 with an uptime >= UP_BEFORE, and no boot output. Prints TIMING.
wait_restored() {
    local dir=$1 n=$2 up=$3 t0=$4 first first_up deadline=$((SECONDS + 120))
    until [[ -n "$(counts "$dir/console.txt" | head -n 1)" ]]; do
        ((SECONDS < deadline)) || fail "$dir: no count on the console within 120 s of the load"
        exited "$pid" && fail "$dir: ember exited after the load"
        sleep 0.02
    done
    echo "TIMING $dir load request -> first new COUNT line: $(( $(now_ms) - t0 )) ms" \
        "(polled every 20 ms)"
    first=$(counts "$dir/console.txt" | head -n 1)
    ((first >= n + 1 && first <= n + 3)) ||
        fail "$dir: the restored guest's first count is $first, the snapshot was taken after $n"
    first_up=$(uptime_of "$dir/console.txt" "$first")
    awk -v a="$first_up" -v b="$up" 'BEGIN {exit !(a >= b)}' ||
        fail "$dir: uptime $first_up after the restore is below $up before it: the guest rebooted"
    if grep -q -e EMBER-GUEST-INIT-OK -e "Linux version" -e COUNTER-START "$dir/console.txt"; then
        fail "$dir: the restored console shows boot output"
    fi
    wait_for 60 has_counts "$dir/console.txt" 3 || fail "$dir: the restored guest stopped counting"
    ok "$dir: counting continues at $first (snapshot after $n), uptime $first_up >= $up," \
        "no boot output"
}

# load DIR BODY...: PUT /snapshot/load expecting 204; prints TIMING and sets $load_ms (start).
load() {
    local t1
    load_ms=$(now_ms)
    expect 204 PUT /snapshot/load "$2"
    t1=$(now_ms)
    echo "TIMING $1 load request -> 204: $((t1 - load_ms)) ms"
}

# pause_and_note DIR: pauses the VM and sets $n_at/$up_at to the last count and its uptime.
pause_and_note() {
    expect 204 PATCH /vm '{"state": "Paused"}'
    n_at=$(last_count "$1/console.txt")
    up_at=$(uptime_of "$1/console.txt" "$n_at")
    [[ -n "$n_at" && -n "$up_at" ]] || fail "$1: no count before the pause"
}

load_body() {  # load_body STATE MEM_TYPE MEM_PATH TRACK TAP
    echo "{\"snapshot_path\": \"$1\"," \
        "\"mem_backend\": {\"backend_type\": \"$2\", \"backend_path\": \"$3\"}," \
        "\"track_dirty_pages\": $4, \"resume_vm\": true," \
        "\"network_overrides\": [{\"iface_id\": \"eth0\", \"host_dev_name\": \"$5\"}]}"
}

create_body() {  # create_body TYPE NAME: files $snap/NAME.state and $snap/NAME.mem
    echo "{\"snapshot_type\": \"$1\", \"snapshot_path\": \"$snap/$2.state\"," \
        "\"mem_file_path\": \"$snap/$2.mem\"}"
}

copy_disks() {  # copy_disks FROM_DIR TO_DIR: the drive files as the guest left them
    mkdir -p "$2" || fail "mkdir $2"
    cp "$1/rootfs.ext4" "$1/data.img" "$2/" || fail "copy $1 -> $2"
}

mkdir -p "$snap" vm0
make_tap tap0 172.16.0.1
make_tap tap1 172.16.0.11
make_tap tap2 172.16.0.12
make_tap tap3 172.16.0.13

# configure_count_vm DIR MACHINE_CONFIG: a new ember in DIR set up (not started) for a counting
# guest on 2 vCPUs: its own rootfs with count.sh, a 4 MiB data drive, eth0 on tap0.
configure_count_vm() {
    local dir=$1 boot_args
    mkdir -p "$dir" || fail "mkdir $dir"
    cp "$rootfs_orig" "$dir/rootfs.ext4"
    debugfs -w -R "write $count_script /count.sh" "$dir/rootfs.ext4" >/dev/null 2>&1 ||
        fail "cannot put count.sh into the rootfs"
    truncate -s 4M "$dir/data.img"
    start_ember "$top/$dir"
    boot_args='console=ttyS0 reboot=k panic=1 nomodule i8042.noaux i8042.nomux i8042.dumbkbd quiet'
    boot_args+=' ember.test=\"sh /count.sh\"'
    expect 204 PUT /machine-config "$2"
    expect 204 PUT /boot-source \
        "{\"kernel_image_path\": \"$kernel\", \"boot_args\": \"$boot_args\"}"
    expect 204 PUT /drives/rootfs '{"drive_id": "rootfs", "path_on_host": "rootfs.ext4",
        "is_root_device": true, "is_read_only": false}'
    expect 204 PUT /drives/data '{"drive_id": "data", "path_on_host": "data.img",
        "is_root_device": false, "is_read_only": false}'
    expect 204 PUT /network-interfaces/eth0 \
        '{"iface_id": "eth0", "guest_mac": "06:00:ac:10:00:02", "host_dev_name": "tap0"}'
}

# ---- 7 (part huge-pages): 64 huge pages for the VM, 64 for the memory file on hugetlbfs, 64
# for each restore's possible copies.
# The 2 MiB pages neither in use nor reserved by a mapping.
huge_free() { awk '/^HugePages_Free/ {f = $2} /^HugePages_Rsvd/ {r = $2} END {print f - r}' \
    /proc/meminfo; }
# KiB of PID's mappings on 2 MiB pages (hugetlb).
huge_mapped_kib() {
    awk '/^Size:/ {size = $2} /^KernelPageSize: +2048 kB/ {sum += size} END {print sum + 0}' \
        "/proc/$1/smaps"
}
# PID maps its 128 MiB of guest memory on 2 MiB pages, and the pool lost at least those 64 pages
# beyond the BASE pages taken before (one more while ember-uffd-handler copies into a hugetlb
# page: the kernel stages it outside the reservation).
check_on_huge_pages() {   # check_on_huge_pages PID WHAT [BASE]
    local mapped base=${3:-0}
    mapped=$(huge_mapped_kib "$1")
    ((mapped == 131072)) || fail "$2: $mapped KiB on 2 MiB pages, not the guest's 131072"
    (($(huge_free) <= 256 - base - 64)) ||
        fail "$2: only $((256 - $(huge_free))) of 256 huge pages are taken"
}
huge_pages_part() {
    echo 256 >/proc/sys/vm/nr_hugepages
    (($(huge_free) == 256)) ||
        fail "the sandbox could not reserve 256 huge pages: $(huge_free) free"
    mkdir -p hugetlbfs && mount -t hugetlbfs -o pagesize=2M none hugetlbfs ||
        fail "could not mount hugetlbfs"
    configure_count_vm huge '{"vcpu_count": 2, "mem_size_mib": 128, "huge_pages": "2M"}'
    expect 204 PUT /actions '{"action_type": "InstanceStart"}'
    check_on_huge_pages "$pid" "the 2M guest"
    wait_for 240 has_counts huge/console.txt 3 || fail "the 2M guest never counted"
    pause_and_note huge
    n_huge=$n_at up_huge=$up_at
    expect 204 PUT /snapshot/create "$(create_body Full huge)"
    # The same paused guest again, its memory file on hugetlbfs (written through a mapping).
    expect 204 PUT /snapshot/create "{\"snapshot_type\": \"Full\", \"snapshot_path\":" \
        "\"$snap/huge-htlb.state\", \"mem_file_path\": \"$top/hugetlbfs/huge.mem\"}"
    stop_ember "$pid"
    copy_disks huge huge-disk
    # A regular memory file: File maps it with 4 KiB pages, says so, and the guest goes on.
    copy_disks huge-disk huge-file
    start_ember "$top/huge-file"
    load huge-file "$(load_body "$snap/huge.state" File "$snap/huge.mem" false tap1)"
    wait_restored huge-file "$n_huge" "$up_huge" "$load_ms"
    (($(huge_mapped_kib "$pid") == 0)) || fail "huge-file: guest memory on 2 MiB pages"
    grep -q "is not on a hugetlbfs mount: it is mapped with 4 KiB pages" huge-file/ember.log ||
        fail "huge-file: no warning about the 4 KiB fallback in its log"
    stop_ember "$pid"
    ok "a 2M snapshot with a regular memory file restores with File on 4 KiB pages, with a warning"
    # The memory file on hugetlbfs: File maps its 2 MiB pages privately.
    copy_disks huge-disk huge-htlb
    start_ember "$top/huge-htlb"
    load huge-htlb "$(load_body "$snap/huge-htlb.state" File "$top/hugetlbfs/huge.mem" false tap1)"
    check_on_huge_pages "$pid" "the 2M guest restored from hugetlbfs" 64
    wait_restored huge-htlb "$n_huge" "$up_huge" "$load_ms"
    stop_ember "$pid"
    ok "a 2M snapshot on hugetlbfs restores with File onto 2 MiB pages"
    rm -f hugetlbfs/huge.mem
    copy_disks huge-disk huge-uffd
    ember-uffd-handler --socket "$top/huge-uffd/uffd.sock" --mem-file "$snap/huge.mem" \
        2>huge-uffd/handler.log &
    handler_pid=$!
    wait_for 10 test -S huge-uffd/uffd.sock || fail "ember-uffd-handler's socket never appeared"
    start_ember "$top/huge-uffd"
    load huge-uffd "$(load_body "$snap/huge.state" Uffd "$top/huge-uffd/uffd.sock" false tap1)"
    check_on_huge_pages "$pid" "the restored 2M guest"
    wait_restored huge-uffd "$n_huge" "$up_huge" "$load_ms"
    stop_ember "$pid"
    wait_for 10 exited "$handler_pid" ||
        { kill "$handler_pid"; fail "the handler outlives its VM"; }
    ok "the 2M snapshot restored with Uffd onto huge pages: $(tail -n 1 huge-uffd/handler.log)"
    check_disk huge-uffd
    umount hugetlbfs
    echo 0 >/proc/sys/vm/nr_hugepages
}
if [[ $part == huge-pages ]]; then
    huge_pages_part
    echo "SNAPSHOT-TEST-PASS"
    exit 0
fi

# ---- 1. boot, snapshot, kill
configure_count_vm vm0 '{"vcpu_count": 2, "mem_size_mib": 128}'
boot_ms=$(now_ms)
expect 204 PUT /actions '{"action_type": "InstanceStart"}'
wait_for 240 has_counts vm0/console.txt 1 || fail "the guest never started counting"
echo "TIMING vm0 InstanceStart -> first COUNT line: $(( $(now_ms) - boot_ms )) ms"
grep -q DD-FAILED vm0/console.txt && fail "the guest cannot write its data drive"
grep -q "COUNTER-START cpus=2" vm0/console.txt || fail "the guest does not run on 2 vCPUs"
ping_via tap0
ok "the guest counts and answers pings through tap0"
wait_for 60 has_counts vm0/console.txt 5 || fail "the guest stopped counting"

expect 400 PUT /snapshot/create "$(create_body Full full)"
pause_and_note vm0
n_full=$n_at up_full=$up_at
t0=$(now_ms)
expect 204 PUT /snapshot/create "$(create_body Full full)"
echo "TIMING vm0 create Full (128 MiB) -> 204: $(( $(now_ms) - t0 )) ms"
[[ -s $snap/full.state && -s $snap/full.mem ]] || fail "the snapshot files are missing or empty"
ok "Full snapshot after count $n_full (uptime $up_full):" \
    "state $(stat -c %s "$snap/full.state") B, memory $(stat -c %s "$snap/full.mem") B" \
    "($(( $(stat -c %b "$snap/full.mem") / 2 )) KiB allocated)"
stop_ember "$pid"
copy_disks vm0 disk0
full_sum=$(md5sum <"$snap/full.mem")

# ---- 2. File backend, tap1; then 4. Full + Diff on the restored VM
copy_disks disk0 r-file
start_ember "$top/r-file"
load r-file "$(load_body "$snap/full.state" File "$snap/full.mem" true tap1)"
wait_restored r-file "$n_full" "$up_full" "$load_ms"
expect 200 GET / "" '"state":"Running"'
ping_via tap1
ok "File backend: the restored guest answers pings through tap1 (network_overrides)"

pause_and_note r-file
expect 204 PUT /snapshot/create "$(create_body Full full2)"
n_full2=$n_at
expect 204 PATCH /vm '{"state": "Resumed"}'
wait_for 120 has_counts r-file/console.txt $((n_full2 - n_full + 5)) ||
    fail "r-file: the guest does not count after the Full snapshot"
pause_and_note r-file
n_diff=$n_at up_diff=$up_at
t0=$(now_ms)
expect 204 PUT /snapshot/create "$(create_body Diff diff)"
echo "TIMING r-file create Diff -> 204: $(( $(now_ms) - t0 )) ms"
diff_kib=$(( $(stat -c %b "$snap/diff.mem") / 2 ))
full2_kib=$(( $(stat -c %b "$snap/full2.mem") / 2 ))
((diff_kib < full2_kib)) ||
    fail "the diff memory file ($diff_kib KiB) is not smaller than the full one ($full2_kib KiB)"
ok "Full snapshot of the restored VM after count $n_full2, Diff after count $n_diff:" \
    "$diff_kib KiB allocated vs $full2_kib KiB"
copy_disks r-file disk-diff
expect 204 PATCH /vm '{"state": "Resumed"}'
wait_for 60 has_counts r-file/console.txt $((n_diff - n_full + 2)) ||
    fail "r-file: the guest does not count after the Diff snapshot"
expect 204 PUT /actions '{"action_type": "SendCtrlAltDel"}'
wait_for 120 exited "$pid" || fail "r-file: ember still runs after SendCtrlAltDel"
wait "$pid"
rc=$?
[[ $rc == 0 ]] || fail "r-file: ember exited $rc after SendCtrlAltDel"
ok "r-file: the restored VM ends on SendCtrlAltDel with exit 0"
check_disk r-file

# ---- 3. Uffd backend, tap2
copy_disks disk0 r-uffd
ember-uffd-handler --socket "$top/r-uffd/uffd.sock" --mem-file "$snap/full.mem" \
    --record "$top/r-uffd/working-set.ws" 2>r-uffd/handler.log &
handler_pid=$!
wait_for 10 test -S r-uffd/uffd.sock || fail "ember-uffd-handler's socket never appeared"
start_ember "$top/r-uffd"
load r-uffd "$(load_body "$snap/full.state" Uffd "$top/r-uffd/uffd.sock" false tap2)"
wait_restored r-uffd "$n_full" "$up_full" "$load_ms"
ping_via tap2
ok "Uffd backend: the restored guest answers pings through tap2"
stop_ember "$pid"
wait_for 10 exited "$handler_pid" ||
    { kill "$handler_pid"; fail "ember-uffd-handler outlives its VM"; }
wait "$handler_pid"
faults=$(sed -n 's/.*faults=\([0-9]*\).*/\1/p' r-uffd/handler.log)
((${faults:-0} > 0)) || { cat r-uffd/handler.log; fail "ember-uffd-handler served no faults"; }
ok "ember-uffd-handler served the memory: $(tail -n 1 r-uffd/handler.log)"
check_disk r-uffd

# ---- 4. restore from the diff merged onto a copy of its Full base
cp "$snap/full2.mem" "$snap/merged.mem"
ember-snapshot merge-diff "$snap/merged.mem" "$snap/diff.mem" >merge.txt 2>&1 ||
    { cat merge.txt; fail "ember-snapshot merge-diff failed"; }
ok "merge-diff: $(tr '\n' ' ' <merge.txt)"
copy_disks disk-diff r-diff
start_ember "$top/r-diff"
load r-diff "$(load_body "$snap/diff.state" File "$snap/merged.mem" false tap3)"
wait_restored r-diff "$n_diff" "$up_diff" "$load_ms"
ok "the Diff snapshot merged onto its base continues from count $n_diff, not from $n_full2"
stop_ember "$pid"
check_disk r-diff

# ---- 5. two VMs from one snapshot, side by side
copy_disks disk0 clone-a
copy_disks disk0 clone-b
start_ember "$top/clone-a"
pid_a=$pid
load clone-a "$(load_body "$snap/full.state" File "$snap/full.mem" false tap1)"
load_a=$load_ms
start_ember "$top/clone-b"
pid_b=$pid
load clone-b "$(load_body "$snap/full.state" File "$snap/full.mem" false tap2)"
load_b=$load_ms
pid=$pid_a current=$top/clone-a
wait_restored clone-a "$n_full" "$up_full" "$load_a"
pid=$pid_b current=$top/clone-b
wait_restored clone-b "$n_full" "$up_full" "$load_b"
a0=$(count_lines clone-a/console.txt) b0=$(count_lines clone-b/console.txt)
wait_for 120 has_counts clone-a/console.txt $((a0 + 3)) || fail "clone-a stopped counting"
wait_for 120 has_counts clone-b/console.txt $((b0 + 3)) || fail "clone-b stopped counting"
ping_via tap1
ping_via tap2
ok "two VMs restored from one snapshot count side by side ($(last_count clone-a/console.txt)," \
    "$(last_count clone-b/console.txt)) and answer pings through tap1 and tap2"
stop_ember "$pid_a"
stop_ember "$pid_b"
check_disk clone-a
check_disk clone-b
[[ "$(md5sum <"$snap/full.mem")" == "$full_sum" ]] ||
    fail "restoring with the File backend wrote to full.mem"
ok "full.mem is unchanged after the File-backend restores (mapped privately)"

# ---- 6. bad input
mkdir -p bad
cp "$snap/full.state" bad/corrupt.state
size=$(stat -c %s bad/corrupt.state)
offset=$((size / 2))
byte=$(od -An -tu1 -j "$offset" -N1 bad/corrupt.state | tr -d ' ')
# shellcheck disable=SC2059  # the format is the one flipped byte, as an octal escape
printf "$(printf '\\%03o' $(( byte ^ 0x5a )))" |
    dd of=bad/corrupt.state bs=1 seek="$offset" count=1 conv=notrunc 2>/dev/null
cmp -s "$snap/full.state" bad/corrupt.state && fail "the byte flip did not change the file"
copy_disks disk0 bad
start_ember "$top/bad"
expect 400 PUT /snapshot/load \
    "$(load_body "$top/bad/corrupt.state" File "$snap/full.mem" false tap1)"
echo "corrupt state file: $body"
wait_for 30 exited "$pid" || fail "ember still runs after a failed load"
wait "$pid"
rc=$?
((rc < 128)) || fail "ember ended by signal $((rc - 128)) after the failed load"
((rc != 0)) || fail "ember exited 0 after a failed load"
ok "a corrupt state file (byte $offset of $size flipped) answers 400 and ember exits $rc"
start_ember "$top/bad"
: >"$top/bad/logger.log"  # As Firecracker's, PUT /logger opens the file, never creates it.
expect 204 PUT /logger '{"log_path": "logger.log", "level": "Info"}'
expect 204 PUT /metrics '{"metrics_path": "metrics.json"}'
expect 204 PUT /machine-config '{"vcpu_count": 1, "mem_size_mib": 128}'
expect 400 PUT /snapshot/load "$(load_body "$snap/full.state" File "$snap/full.mem" false tap1)"
ok "a load after PUT /machine-config answers 400: ${body:0:160}"
stop_ember "$pid"

echo "SNAPSHOT-TEST-PASS"
