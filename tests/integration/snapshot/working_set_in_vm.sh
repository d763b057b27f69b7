#!/bin/bash
# Runs inside ember-sandbox; see working_set_test.sh. The guest runs `guestfunc 4 /root/data 2` on
# its console (stdin: the FIFO req.fifo, held open on fd 8; stdout: console.txt).
#   1. boot; at FUNC READY pause and take snapshot A; resume, answer one request, pause, take
#      snapshot B (same size, other contents)
#   2. load A with Uffd, ember-uffd-handler --record: the guest answers; at the VM's end the
#      handler writes the record (a versioned binary file)
#   3. load A with --prefetch of that record: the working set is installed before any fault, the
#      guest continues and gives the same answer as in 2
#   4. the record with B's memory file: the handler exits 1 with "was recorded from another
#      memory file" before it listens, and ember's load of B fails at once (400, exit 1)
#   5. load A with the File backend and mem_backend.working_set_path: before it resumes, the
#      clone's mapping of a.mem holds every recorded page and owns a copy of exactly the written
#      ones (smaps); resumed, it gives the same answer
#   6. the same record with B: ember refuses the load (400 naming the other memory file, exit 1)
# Prints "ok:" lines and WORKING-SET-TEST-PASS; exits non-zero on the first failure.
set -u
pid=""
fail() {
    echo "FAIL: $*"
    for f in console.txt ember.log handler.log; do
        [[ -e $f ]] && { echo "---- $f (last 20 lines)"; tail -n 20 "$f"; }
    done
    [[ -n $pid ]] && kill -9 "$pid" 2>/dev/null
    exit 1
}
source "$(dirname "$0")/api_client.sh"
args="console=ttyS0 reboot=k panic=1 nomodule i8042.noaux i8042.nomux i8042.dumbkbd quiet"
boot_args="$args ember.test=\\\"/sbin/guestfunc 4 /root/data 2\\\""

# start_ember NAME: a new ember (API socket NAME.sock, console console.txt, stdin req.fifo).
start_ember() {
    sock=$PWD/$1.sock
    rm -f "$sock" console.txt req.fifo
    mkfifo req.fifo
    exec 8<>req.fifo
    ember --api-sock "$sock" --log-path ember.log --level Info <&8 >console.txt 2>ember.stderr &
    pid=$!
    : >ember.log
    wait_for 20 test -S "$sock" || fail "$1: no API socket"
}
stop_ember() {
    kill "$pid" 2>/dev/null
    wait_for 20 exited "$pid" || { kill -9 "$pid"; fail "ember did not end on SIGTERM"; }
    wait "$pid" 2>/dev/null
    pid=""
    exec 8>&-
}
# request N: sends a request line, waits for "ANSWER N"; sets $answer (the line).
request() {
    echo "req" >&8
    wait_for 120 grep -q "^ANSWER $1 " console.txt || fail "no ANSWER $1 on the console"
    answer=$(grep "^ANSWER $1 " console.txt | tr -d '\r')
}
# handler ARGS...: an ember-uffd-handler on handler.sock with handler.log; sets $handler_pid.
handler() {
    rm -f handler.sock
    ember-uffd-handler --socket "$PWD/handler.sock" "$@" 2>handler.log &
    handler_pid=$!
}
# expect_load_failure_exit: a failed load ends ember with exit 1 (Firecracker's rule); sets rc.
expect_load_failure_exit() {
    wait_for 20 exited "$pid" || fail "ember still runs after its load failed"
    wait "$pid"
    rc=$?
    pid=""
    ((rc == 1)) || fail "ember exited $rc after the failed load"
}
load_uffd() {   # load_uffd STATE: PUT /snapshot/load through handler.sock, resumed
    expect 204 PUT /snapshot/load "{\"snapshot_path\": \"$1\", \"mem_backend\": {\"backend_type\": \"Uffd\", \"backend_path\": \"$PWD/handler.sock\"}, \"resume_vm\": true}"
}

# ---- 1. two snapshots of one function
start_ember boot
expect 204 PUT /machine-config '{"vcpu_count": 1, "mem_size_mib": 128}'
expect 204 PUT /boot-source "{\"kernel_image_path\": \"bzImage\", \"boot_args\": \"$boot_args\"}"
expect 204 PUT /drives/rootfs '{"drive_id": "rootfs", "path_on_host": "rootfs.ext4", "is_root_device": true, "is_read_only": true}'
expect 204 PUT /actions '{"action_type": "InstanceStart"}'
wait_for 240 grep -q "FUNC READY" console.txt || fail "the function never got ready"
sleep 0.5
expect 204 PATCH /vm '{"state": "Paused"}'
expect 204 PUT /snapshot/create '{"snapshot_type": "Full", "snapshot_path": "a.state", "mem_file_path": "a.mem"}'
expect 204 PATCH /vm '{"state": "Resumed"}'
request 1
boot_answer=$answer
expect 204 PATCH /vm '{"state": "Paused"}'
expect 204 PUT /snapshot/create '{"snapshot_type": "Full", "snapshot_path": "b.state", "mem_file_path": "b.mem"}'
stop_ember
[[ $(stat -c %s a.mem) == $(stat -c %s b.mem) ]] || fail "A and B differ in size"
ok "snapshots A (at FUNC READY) and B (after one request) of one guest; boot answered: $boot_answer"

# ---- 2. record
handler --mem-file a.mem --record "$PWD/a.ws"
wait_for 10 test -S handler.sock || fail "the handler's socket never appeared"
start_ember record
load_uffd a.state
request 1
recorded_answer=$answer
[[ "${answer% *}" == "${boot_answer% *}" ]] ||
    fail "the restored function answered '$answer', the booted one '$boot_answer'"
stop_ember
wait_for 20 exited "$handler_pid" || fail "the handler outlives its VM"
wait "$handler_pid" || fail "the recording handler exited $?"
[[ $(head -c 7 a.ws) == EMBERWS ]] || fail "a.ws is not a working-set record"
grep -q "recorded [1-9][0-9]* pages ([1-9][0-9]* written) to $PWD/a.ws" handler.log ||
    fail "no record line with written pages in the handler's log"
recorded_pages=$(sed -n 's/.*recorded \([0-9]*\) pages.*/\1/p' handler.log)
recorded_written=$(sed -n 's/.*recorded [0-9]* pages (\([0-9]*\) written).*/\1/p' handler.log)
ok "record: $(grep recorded handler.log); $(stat -c %s a.ws) bytes; answer: $recorded_answer"

# ---- 3. prefetch: the working set first, the function continues
handler --mem-file a.mem --prefetch "$PWD/a.ws"
wait_for 10 test -S handler.sock || fail "the handler's socket never appeared"
start_ember prefetch
load_uffd a.state
request 1
[[ "${answer% *}" == "${recorded_answer% *}" ]] ||
    fail "the prefetched load answered '$answer', the recording one '$recorded_answer'"
stop_ember
wait_for 20 exited "$handler_pid" || fail "the handler outlives its VM"
wait "$handler_pid" || fail "the prefetching handler exited $?"
installed=$(grep "working set installed" handler.log) || fail "the handler installed no working set"
faults=$(sed -n 's/.*faults=\([0-9]*\).*/\1/p' handler.log)
recorded=$(sed -n 's/.*of \([0-9]*\) pages read ahead.*/\1/p' handler.log)
((faults < recorded)) || fail "$faults faults with $recorded pages installed"
ok "prefetch: same answer ($answer); ${installed#*: }; faults=$faults"

# ---- 4. a record from another snapshot's memory file
handler --mem-file b.mem --prefetch "$PWD/a.ws"
wait_for 10 exited "$handler_pid" || { kill "$handler_pid"; fail "the handler took a record of another memory file"; }
wait "$handler_pid"
rc=$?
((rc == 1)) || fail "the handler exited $rc with a record of another memory file"
grep -q "the working-set record $PWD/a.ws was recorded from another memory file" handler.log ||
    fail "no clear refusal in the handler's log"
[[ ! -e handler.sock ]] || fail "the refusing handler listens"
ok "refused: $(cat handler.log)"
start_ember other
t0=$SECONDS
expect 400 PUT /snapshot/load "{\"snapshot_path\": \"b.state\", \"mem_backend\": {\"backend_type\": \"Uffd\", \"backend_path\": \"$PWD/handler.sock\"}, \"resume_vm\": true}"
expect_load_failure_exit
ok "ember's load of B without a handler failed in $((SECONDS - t0)) s, exit $rc: ${body:0:160}"

# ---- 5. the record populates a File clone
# smaps_kib FIELD: the FIELD total (kB) of ember's mappings of a.mem.
smaps_kib() {
    awk -v field="$1:" '/^[0-9a-f]+-[0-9a-f]+ / {in_mem = ($NF ~ /\/a\.mem$/)}
        in_mem && $1 == field {sum += $2} END {print sum + 0}' "/proc/$pid/smaps"
}
start_ember file
expect 204 PUT /snapshot/load "{\"snapshot_path\": \"a.state\", \"mem_backend\": {\"backend_type\": \"File\", \"backend_path\": \"$PWD/a.mem\", \"working_set_path\": \"$PWD/a.ws\"}}"
populated=$(grep "Working set $PWD/a.ws:" ember.log) || fail "ember logged no populated working set"
[[ $populated =~ :\ ([0-9]+)\ pages\ populated\ in\ [0-9]+\ runs,\ ([0-9]+)\ of\ them\ copied ]] ||
    fail "unexpected populate line: $populated"
((BASH_REMATCH[1] == recorded_pages && BASH_REMATCH[2] == recorded_written)) ||
    fail "populated ${BASH_REMATCH[1]} pages (${BASH_REMATCH[2]} copied) of a record of $recorded_pages ($recorded_written written)"
# Paused: nothing but the populate touched the mapping yet (the load itself reads no guest page).
rss=$(smaps_kib Rss) anon=$(smaps_kib Anonymous)
((rss >= recorded_pages * 4 && anon >= recorded_written * 4)) ||
    fail "after the populate a.mem has Rss $rss kB, Anonymous $anon kB; the record: $recorded_pages pages, $recorded_written written"
((anon <= recorded_written * 4 + 64)) ||
    fail "the clone copied $anon kB of a.mem, the record marks $((recorded_written * 4)) kB written"
expect 204 PATCH /vm '{"state": "Resumed"}'
request 1
[[ "${answer% *}" == "${recorded_answer% *}" ]] ||
    fail "the populated File clone answered '$answer', the recording one '$recorded_answer'"
stop_ember
ok "File + working set: ${populated#*Working set }; before resume Rss $rss kB, Anonymous $anon kB; answer: $answer"

# ---- 6. the record with another snapshot's memory file, File backend
start_ember file-other
expect 400 PUT /snapshot/load "{\"snapshot_path\": \"b.state\", \"mem_backend\": {\"backend_type\": \"File\", \"backend_path\": \"$PWD/b.mem\", \"working_set_path\": \"$PWD/a.ws\"}}"
[[ $body == *"the working-set record $PWD/a.ws was recorded from another memory file"* ]] ||
    fail "no clear refusal: $body"
expect_load_failure_exit
ok "File load of B with A's record refused: ${body:0:200}"

echo "WORKING-SET-TEST-PASS"
