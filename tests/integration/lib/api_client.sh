# Sourced by in-sandbox test scripts (bash) that drive ember's API with
# `curl --unix-socket "$sock"`. The caller defines fail() and sets $sock (and $ember_pid, the
# background ember, for ember_exited).

ok() { echo "ok: $*"; }

# fail_and_show MESSAGE LINES FILE...: prints "FAIL: MESSAGE" and the last LINES lines of each
# FILE that exists, stops the background ember and exits 1. Callers' fail() wrap it.
fail_and_show() {
    local message=$1 lines=$2 f
    shift 2
    echo "FAIL: $message"
    for f in "$@"; do
        [[ -e $f ]] && { echo "---- $f (last $lines lines)"; tail -n "$lines" "$f"; }
    done
    [[ -n "${ember_pid:-}" ]] && kill "$ember_pid" 2>/dev/null
    exit 1
}

# api METHOD PATH [BODY]: prints the body and sets $status.
api() {
    local out
    out=$(curl -sS --max-time 60 --unix-socket "$sock" -X "$1" "http://localhost$2" \
        -H 'Accept: application/json' -H 'Content-Type: application/json' \
        ${3:+--data "$3"} -w $'\n%{http_code}') || fail "curl $1 $2"
    status=${out##*$'\n'}
    body=${out%$'\n'*}
}

# expect STATUS METHOD PATH [BODY] [TEXT]: the answer has STATUS (and contains TEXT).
expect() {
    local want=$1 text=${5:-}
    api "$2" "$3" "${4:-}"
    [[ "$status" == "$want" ]] || fail "$2 $3 answered $status, expected $want: $body"
    [[ -z "$text" || "$body" == *"$text"* ]] || fail "$2 $3: no '$text' in: $body"
    ok "$2 $3 -> $status ${body:0:120}"
}

# wait_for SECONDS COMMAND...: polls COMMAND every 0.2 s.
wait_for() {
    local deadline=$((SECONDS + $1)); shift
    until "$@"; do
        ((SECONDS < deadline)) || return 1
        sleep 0.2
    done
}

# Uptime lines (`cat /proc/uptime` in a guest loop) on the console so far.
console_lines() { grep -c '^[0-9][0-9]*\.[0-9]* ' console.txt 2>/dev/null || true; }
# At least N uptime lines on the console (for wait_for).
has_lines() { (($(console_lines) >= $1)); }

# exited PID: a child that has exited stays a zombie (state Z) until `wait`.
exited() {
    local state
    state=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)
    [[ -z "$state" || "$state" == Z ]]
}
ember_exited() { exited "$ember_pid"; }
