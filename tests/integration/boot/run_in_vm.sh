#!/bin/bash
# Runs inside ember-sandbox: boots one microVM with ember, REPEAT times (default 1), and reports
# for each boot, one per line:
#   MARKER_MS=<launch -> EMBER-GUEST-INIT-OK on the console, in ms>
#   EMBER_EXIT=<ember's exit code>
# then the tail of its console and ember's log. The guest console goes to console.txt, ember's log
# to ember.log (both overwritten by each boot). With EMBER_HUGE_PAGES=N, the host's 2 MiB page
# pool is set to N first, and each boot prints HUGE_PAGES_AVAILABLE=<the fewest pages that were
# neither in use nor reserved while ember ran>: 0 when the guest's memory took the whole pool.
# (Sampled during the run, not read at the marker: the guest reboots right after the marker, and
# ember may have exited and given the pages back by the time anything reads /proc/meminfo.)
# Usage: run_in_vm.sh CONFIG TIMEOUT_S [CONSOLE_LINES [REPEAT]]
set -u
echo "RUN-IN-VM-START"  # boot_test.sh reads the output from the last such line (sandbox reruns)
config=$1
timeout_s=$2
EMBER_CONSOLE_LINES=${3:-20}
repeat=${4:-1}
if [[ -n "${EMBER_HUGE_PAGES:-}" ]]; then
    echo "$EMBER_HUGE_PAGES" >/proc/sys/vm/nr_hugepages
    echo "HUGE_PAGES_TOTAL=$(awk '/^HugePages_Total/ {print $2}' /proc/meminfo)"
fi
# Prints the fewest unreserved free 2 MiB pages seen every 50 ms until the file huge.stop appears.
sample_huge_pages() {
    local min=-1 key value free reserved
    while [[ ! -e huge.stop ]]; do
        while read -r key value _; do
            case $key in
                HugePages_Free:) free=$value ;;
                HugePages_Rsvd:) reserved=$value ;;
            esac
        done </proc/meminfo
        ((min < 0 || free - reserved < min)) && min=$((free - reserved))
        sleep 0.05
    done
    echo "$min"
}
for ((boot = 1; boot <= repeat; boot++)); do
    ((repeat > 1)) && echo "==== boot $boot of $repeat"
    rm -f console.txt ember.log huge.stop
    if [[ -n "${EMBER_HUGE_PAGES:-}" ]]; then sample_huge_pages >huge.min & fi
    start=$EPOCHREALTIME
    marker_ms=""
    # Timestamp each console line as it arrives; the exit status of ember is kept by PIPESTATUS.
    # SIGKILL 10 s after SIGTERM: ember handles SIGTERM in its event loop, which a hang can block.
    timeout -k 10 "$timeout_s" ember --config-file "$config" --no-api --boot-timer --level Info \
        </dev/null 2>ember.log |
    while IFS= read -r line; do
        line=${line%$'\r'}
        printf '%s\n' "$line" >>console.txt
        if [[ -z "$marker_ms" && "$line" == *EMBER-GUEST-INIT-OK* ]]; then
            now=$EPOCHREALTIME
            marker_ms=$(( (${now/./} - ${start/./}) / 1000 ))
            echo "MARKER_MS=$marker_ms"
        fi
    done
    echo "EMBER_EXIT=${PIPESTATUS[0]}"
    if [[ -n "${EMBER_HUGE_PAGES:-}" ]]; then
        touch huge.stop
        wait
        echo "HUGE_PAGES_AVAILABLE=$(cat huge.min)"
    fi
    echo "---- console (last ${EMBER_CONSOLE_LINES:-20} lines)"
    tail -n "${EMBER_CONSOLE_LINES:-20}" console.txt 2>/dev/null
    echo "---- ember log"
    cat ember.log
done
