#!/bin/bash
# Runs inside ember-sandbox: boots one microVM with ember, REPEAT times (default 1), and reports
# for each boot, one per line:
#   MARKER_MS=<launch -> EMBER-GUEST-INIT-OK on the console, in ms>
#   EMBER_EXIT=<ember's exit code>
# then the tail of its console and ember's log. The guest console goes to console.txt, ember's log
# to ember.log (both overwritten by each boot). With EMBER_HUGE_PAGES=N, the host's 2 MiB page
# pool is set to N first, and each boot prints HUGE_PAGES_AVAILABLE=<free pages no mapping has
# reserved> when the marker appears: 0 when the guest's memory took the whole pool.
# Usage: run_in_vm.sh CONFIG TIMEOUT_S [CONSOLE_LINES [REPEAT]]
set -u
config=$1
timeout_s=$2
EMBER_CONSOLE_LINES=${3:-20}
repeat=${4:-1}
if [[ -n "${EMBER_HUGE_PAGES:-}" ]]; then
    echo "$EMBER_HUGE_PAGES" >/proc/sys/vm/nr_hugepages
    echo "HUGE_PAGES_TOTAL=$(awk '/^HugePages_Total/ {print $2}' /proc/meminfo)"
fi
for ((boot = 1; boot <= repeat; boot++)); do
    ((repeat > 1)) && echo "==== boot $boot of $repeat"
    rm -f console.txt ember.log
    start=$EPOCHREALTIME
    marker_ms=""
    # Timestamp each console line as it arrives; the exit status of ember is kept by PIPESTATUS.
    timeout "$timeout_s" ember --config-file "$config" --no-api --boot-timer --level Info \
        </dev/null 2>ember.log |
    while IFS= read -r line; do
        line=${line%$'\r'}
        printf '%s\n' "$line" >>console.txt
        if [[ -z "$marker_ms" && "$line" == *EMBER-GUEST-INIT-OK* ]]; then
            now=$EPOCHREALTIME
            marker_ms=$(( (${now/./} - ${start/./}) / 1000 ))
            echo "MARKER_MS=$marker_ms"
            if [[ -n "${EMBER_HUGE_PAGES:-}" ]]; then
                echo "HUGE_PAGES_AVAILABLE=$(awk '/^HugePages_Free/ {f = $2}
                    /^HugePages_Rsvd/ {r = $2} END {print f - r}' /proc/meminfo)"
            fi
        fi
    done
    echo "EMBER_EXIT=${PIPESTATUS[0]}"
    echo "---- console (last ${EMBER_CONSOLE_LINES:-20} lines)"
    tail -n "${EMBER_CONSOLE_LINES:-20}" console.txt 2>/dev/null
    echo "---- ember log"
    cat ember.log
done
