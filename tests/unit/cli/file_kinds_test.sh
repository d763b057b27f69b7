#!/usr/bin/env bash
# The ember binary given FIFOs, devices, directories and oversized files on its command line:
# each ends with Firecracker's exit code and a message naming the path, in bounded time, and a
# FIFO with no writer can still be interrupted. No KVM needed: nothing here boots.
# Usage: file_kinds_test.sh EMBER
set -u
ember=$1
dir=$(mktemp -d /tmp/ember-cli-files-XXXXXX)
trap 'rm -rf "$dir"' EXIT
mkfifo "$dir/fifo"
ln -s "$dir/fifo" "$dir/link"
truncate -s 100M "$dir/big"
failures=0

# expect CODE MAX_SECONDS TEXT ARGS...: runs ember, checks its exit code, that it took at most
# MAX_SECONDS and that stderr contains TEXT.
expect() {
    local code=$1 max=$2 text=$3
    shift 3
    local begin end took got
    begin=$(date +%s%N)
    timeout -s KILL 30 "$ember" --no-api "$@" >"$dir/out" 2>&1 </dev/null
    got=$?
    end=$(date +%s%N)
    took=$(( (end - begin) / 1000000 ))
    if [[ $got -ne $code ]] || (( took > max * 1000 )) ||
        { [[ -n $text ]] && ! grep -qF -- "$text" "$dir/out"; }; then
        echo "FAIL: ember $*: exit $got (want $code) after ${took} ms (max ${max} s)," \
             "want '$text' in:"
        sed 's/^/    /' "$dir/out"
        failures=$((failures + 1))
    else
        echo "ok: ember $* -> $got in ${took} ms"
    fi
}

kernel="$dir/vmlinux"
: >"$kernel"
config() {  # config DRIVE_PATH: a config whose one drive is DRIVE_PATH.
    printf '{"boot-source": {"kernel_image_path": "%s"}, "drives": [{"drive_id": "rootfs",
        "path_on_host": "%s", "is_root_device": true, "is_read_only": true}]}' "$kernel" "$1"
}

expect 152 5 "/dev/zero: is a character device, not a regular file or FIFO" --config-file /dev/zero
expect 152 5 "$dir: is a directory" --config-file "$dir"
expect 152 5 "$dir/big: 104857600 bytes, more than the 4194304 allowed" --config-file "$dir/big"
expect 152 5 "$dir/none: No such file or directory" --config-file "$dir/none"
# Process substitution hands ember a pipe: it is read, here to a parse error.
expect 152 5 "EOF while parsing a value" --config-file <(printf '{"boot-source": ')
expect 152 5 "path_on_host\` must not contain a NUL character" \
    --config-file <(config '/r\u0000')
expect 152 5 "invalid UTF-8 in a string" --config-file <(config $'/r\xff')
# A FIFO as the drive of a config file, read-only: refused, not waited on (drives are opened as
# the VM is built, whose failure exits 1).
expect 1 5 "open disk: $dir/link: is a FIFO" --config-file <(config "$dir/link")
expect 1 5 "open disk: /dev/kmsg: is a character device" --config-file <(config /dev/kmsg)
expect 1 5 "$dir/fifo: is a FIFO, not a regular file" --seccomp-filter "$dir/fifo" \
    --config-file <(echo '{}')
expect 1 5 "open log file: $dir: is a directory" --log-path "$dir" --config-file <(echo '{}')
# A FIFO with no reader is a valid log and metrics path: start-up goes on to the bad config.
expect 152 5 "" --log-path "$dir/fifo" --config-file <(config '/r\u0000')
expect 152 5 "must not contain a NUL" --metrics-path "$dir/link" --config-file <(config '/r\u0000')
# A FIFO config whose writer never comes: given up after 10 s.
expect 152 12 "the FIFO's writer did not finish within 10000 ms" --config-file "$dir/fifo"

# ... and SIGTERM ends the wait at once (signals are not blocked yet).
"$ember" --no-api --config-file "$dir/fifo" >"$dir/out" 2>&1 </dev/null &
pid=$!
begin=$(date +%s%N)
# Poll (bounded) until ember sits in the FIFO wait, then ask it to stop.
for _ in $(seq 100); do
    [[ $(cat /proc/$pid/wchan 2>/dev/null) == *poll* ]] && break
    sleep 0.02
done
kill -TERM $pid
wait $pid
got=$?
took=$(( ($(date +%s%N) - begin) / 1000000 ))
if [[ $got -ne 143 ]] || (( took > 3000 )); then
    echo "FAIL: SIGTERM during the FIFO wait: exit $got after ${took} ms"
    failures=$((failures + 1))
else
    echo "ok: SIGTERM during the FIFO wait -> $got in ${took} ms"
fi

exit $(( failures > 0 ))
