#!/bin/bash
# Serving functions from snapshots, every figure in one command (prints, does not assert). Runs,
# each in one sandbox run of its own where Ember and QEMU go side by side:
#   fleet_bench.sh        N = 1, 8, 32 clones of one snapshot: all-answering ms, private KiB/clone,
#                         File clones without and with the recorded working set
#   first_answer_bench.sh load request -> the function's answer: File, Uffd, Uffd and File with
#                         the recorded working set, boot, QEMU -incoming
#   restore_bench.sh      restore with the Sync and the io_uring (Async) drive engine, and
#                         block_engine_setup_bench what each engine's setup adds (host, no KVM)
#   diff_refresh_bench.sh a clone's Diff snapshot merged onto the base: diff vs full save
# then repeats each one's summary at the end.
# Usage: tests/bench/snapshot/clone_bench.sh EMBER_BINARY [ROUNDS]   (default 3 rounds)
set -uo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ember=${1:?usage: clone_bench.sh EMBER_BINARY [ROUNDS]}
rounds=${2:-3}
out="$(mktemp -d /tmp/ember-clone-bench.XXXXXX)"
trap 'rm -rf "$out"' EXIT
status=0
run() {   # run NAME COMMAND...: its output to the terminal and to $out/NAME
    local name=$1
    shift
    echo "==== clone_bench: $name"
    "$@" 2>&1 | tee "$out/$name"
    local rc=${PIPESTATUS[0]}
    ((rc == 0)) || { echo "clone_bench: $name exited $rc"; status=1; }
}
run fleet "$here/fleet_bench.sh" "$ember" "$rounds"
run first_answer "$here/first_answer_bench.sh" "$ember" "$rounds"
RESTORE_BENCH_CFGS=${RESTORE_BENCH_CFGS:-1x128} run restore "$here/restore_bench.sh" "$ember" "$rounds"
run diff_refresh "$here/diff_refresh_bench.sh" "$ember" "$rounds"
engine_bench="$(dirname "$ember")/tests/bench/block_engine_setup_bench"
if [[ -x $engine_bench ]]; then
    run engine_setup "$engine_bench"
else
    echo "clone_bench: $engine_bench not built: the engines' setup cost is left out"
    status=1
fi

# The summaries again, together: each script prints its tables after the sandbox run's last line.
echo
echo "==== clone_bench: summaries"
for name in fleet first_answer restore diff_refresh engine_setup; do
    [[ -f $out/$name ]] || continue
    echo "---- $name"
    awk '/^ember-sandbox: outer VM: .*total/ {block = ""; next} {block = block $0 "\n"}
         END {printf "%s", block}' "$out/$name"
done
exit $status
