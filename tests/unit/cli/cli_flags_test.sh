#!/usr/bin/env bash
# The ember binary's command line as Firecracker's: --version/--help/--snapshot-version output,
# Firecracker's arg_parser errors (unknown, repeated, prefix-only and value-less flags, stray
# words) with exit code 153, a bad --level with 152; then, with the API up, the log lines
# Firecracker's framework waits on, the start-up figures computed from the jailer's clocks, and
# the API thread's 512 KiB stack.
# No KVM needed: nothing boots.
# Usage: cli_flags_test.sh EMBER
set -u
ember=$1
dir=$(mktemp -d /tmp/ember-cli-flags-XXXXXX)
pid=
trap '[[ -n $pid ]] && kill -KILL "$pid" 2>/dev/null; rm -rf "$dir"' EXIT
failures=0

fail() {
    echo "FAIL: $*"
    failures=$((failures + 1))
}

# expect CODE TEXT ARGS...: runs ember, checks its exit code and that its output has TEXT.
expect() {
    local code=$1 text=$2
    shift 2
    timeout -s KILL 10 "$ember" "$@" >"$dir/out" 2>&1 </dev/null
    local got=$?
    if [[ $got -ne $code ]] || ! grep -qF -- "$text" "$dir/out"; then
        fail "ember $*: exit $got (want $code), want '$text' in:"
        sed 's/^/    /' "$dir/out"
    else
        echo "ok: ember $* -> $got"
    fi
}

version=$("$ember" --version)
[[ $? -eq 0 && $version =~ ^Firecracker\ v[0-9]+\.[0-9]+\.[0-9]+\ \(Ember\ v ]] ||
    fail "--version printed '$version'"
[[ $("$ember" --version | wc -l) -eq 2 ]] || fail "--version is not one line and a blank one"
expect 0 "Firecracker v" --id x --bogus --version
expect 0 "--snapshot-version" --help
expect 0 "--http-api-max-payload-size" --api-sock --help
[[ $("$ember" --snapshot-version) =~ ^v[0-9]+\.[0-9]+\.[0-9]+$ ]] || fail "--snapshot-version"
expect 153 "Found argument 'bogus' which wasn't expected, or isn't valid in this context." \
    --bogus
expect 153 "Usage:" --bogus
expect 153 "Found argument 'api' which wasn't expected" --api "$dir/s"
expect 153 "Found argument 'stray' which wasn't expected" --id x stray
expect 153 "The argument 'id' was provided more than once." --id a --id b
expect 153 "The argument 'api-sock' requires a value, but none was supplied." --api-sock
expect 153 "The argument 'api-sock' requires a value, but none was supplied." \
    --api-sock --id x
expect 153 "Argument 'config-file' required, but not found." --no-api
expect 153 "cannot be used together" --no-seccomp --seccomp-filter /x --no-api \
    --config-file /x
expect 153 "'start-time-us' parameter expected to be of 'u64' type." --start-time-us -5
expect 152 "Invalid value for logger level: Loud." --level Loud --no-api --config-file /x
expect 1 "Invalid instance ID: 'a_b'" --id a_b --no-api --config-file /x
expect 1 "Invalid instance ID" --id "$(printf 'a%.0s' {1..65})" --no-api --config-file /x
# Firecracker's level names in any case: the run goes on, to the missing config file.
expect 152 "$dir/none: No such file or directory" --level WARNING --no-api \
    --config-file "$dir/none"
expect 152 "$dir/none: No such file or directory" --level warn --no-api \
    --config-file "$dir/none" -- extra words

# With the API up: Firecracker's log lines, then its start-up figures in the exit metrics.
now_us() { python3 -c 'import time; print(int(time.monotonic() * 1e6))'; }
start=$(( $(now_us) - 2000000 ))
"$ember" --api-sock "$dir/api.sock" --log-path "$dir/log" --level Info \
    --metrics-path "$dir/metrics" --start-time-us "$start" --start-time-cpu-us 0 \
    --parent-cpu-time-us 3000000 </dev/null >"$dir/out" 2>&1 &
pid=$!
for _ in $(seq 100); do [[ -S $dir/api.sock ]] && break; sleep 0.05; done
api() { curl -s --max-time 5 --unix-socket "$dir/api.sock" "$@"; }
api http://localhost/ >/dev/null
api -X PUT -d '{"vcpu_count": 2, "mem_size_mib": 256}' http://localhost/machine-config
api -X PUT -d '{"action_type": "FlushMetrics"}' http://localhost/actions >/dev/null
headers=$(api -i -X PATCH -d '{"cpu_template": "None"}' http://localhost/machine-config)
# The API thread's stack is 512 KiB, whatever RLIMIT_STACK says (8 MiB here): the mapping that
# holds its stack pointer (from /proc/PID/task/TID/syscall, while it waits in epoll).
api_tid=$(grep -l '^fc_api$' /proc/"$pid"/task/*/comm | head -1 | cut -d/ -f5)
sp=$(awk '{print $(NF-1)}' "/proc/$pid/task/$api_tid/syscall" 2>/dev/null)
stack_kib=""
while read -r range _; do
    lo=$((16#${range%-*})) hi=$((16#${range#*-}))
    ((sp >= lo && sp < hi)) && stack_kib=$(((hi - lo) / 1024))
done <"/proc/$pid/maps"
# A sanitizer's pthread_create interceptor ignores the default attributes: release builds only.
if readelf --dyn-syms -W "$ember" 2>/dev/null | grep -q __asan_init; then
    echo "ok: thread stack size not checked in a sanitizer build (${stack_kib:-?} KiB)"
elif [[ $stack_kib != 512 ]]; then
    fail "the API thread's stack mapping is ${stack_kib:-?} KiB (sp ${sp:-?}), not 512"
fi
kill -TERM "$pid"
wait "$pid"
pid=
for line in 'API server started.' \
    'The API server received a Get request on "/".' \
    'The API server received a Put request on "/machine-config" with body "{\"vcpu_count\": 2, \"mem_size_mib\": 256}".' \
    'The request was executed successfully. Status code: 204 No Content.' \
    'The request was executed successfully. Status code: 200 OK.' \
    'Received Error. Status code: 400 Bad Request. Message: The requested operation is not supported before starting the microVM.' \
    'PATCH /machine-config: cpu_template field is deprecated.'; do
    grep -qF -- "$line" "$dir/log" || fail "log lacks '$line'"
done
grep -qi '^Deprecation: true' <<<"$headers" || fail "no Deprecation header in: $headers"
wall=$(grep -o '"process_startup_time_us":[0-9]*' "$dir/metrics" | tail -1 | cut -d: -f2)
cpu=$(grep -o '"process_startup_time_cpu_us":[0-9]*' "$dir/metrics" | tail -1 | cut -d: -f2)
# Two seconds before the start, plus the start itself (well under a minute here).
(( ${wall:-0} >= 2000000 && ${wall:-0} < 60000000 )) || fail "process_startup_time_us=$wall"
# The parent's three seconds plus this process's CPU time so far.
(( ${cpu:-0} >= 3000000 && ${cpu:-0} < 60000000 )) || fail "process_startup_time_cpu_us=$cpu"
echo "start-up: ${wall} us, ${cpu} CPU us"

if ((failures)); then
    echo "$failures failure(s)"
    sed 's/^/    log: /' "$dir/log" | tail -30
    exit 1
fi
echo "all passed"
