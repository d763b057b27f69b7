# Guest side of the MMDS suite (installed as /etc/ember-test, run by busybox sh). The kernel
# command line says which boot this is: ember.mmds=v1 (V1 reads, 1,000 requests, MMDS during a
# bulk TCP transfer) or ember.mmds=v2 (session tokens). Results are KEY=value console lines.
mmds=169.254.169.254
mode=v1
case " $(cat /proc/cmdline) " in *' ember.mmds=v2 '*) mode=v2 ;; esac
ip link set eth0 up && ip addr add 172.16.0.2/24 dev eth0
# As Firecracker's tests do: the MMDS address is reached through eth0, no gateway needed.
ip route add "$mmds" dev eth0
# One GET over a new connection, printing the body (or the status line unless 200): busybox's
# static wget crashes resolving names through glibc's NSS, so guestbench speaks HTTP here.
get() {
    local header=""
    if [ "$1" = --header ]; then header=$2; shift 2; fi
    /sbin/guestbench http "$mmds" 80 "${1#http://$mmds}" "$header"
}
oneline() { tr '\r\n' '|,'; }  # one console line; MMDS answers end without a newline

# A raw HTTP request through nc (busybox wget cannot PUT or show a status): prints the answer.
# The MMDS keeps the connection open, so nc is stopped after a few seconds.
raw() { printf '%b' "$1" | timeout 5 nc "$mmds" 80; }

if [ "$mode" = v2 ]; then
    answer=$(raw 'PUT /latest/api/token HTTP/1.1\r\nX-metadata-token-ttl-seconds: 60\r\n\r\n')
    token=$(printf '%s' "$answer" | tail -n 1 | tr -d '\r\n')
    echo "GUEST-V2-TOKEN-STATUS=$(printf '%s' "$answer" | head -n 1 | tr -d '\r')"
    echo "GUEST-V2-TOKEN-LEN=${#token}"
    echo "GUEST-V2-WITH-TOKEN=$(get --header "X-metadata-token: $token" \
        "http://$mmds/latest/meta-data/ami-id" 2>&1 | oneline)"
    echo "GUEST-V2-NO-TOKEN=$(raw 'GET /latest/meta-data/ami-id HTTP/1.1\r\n\r\n' | head -n 1 |
        tr -d '\r')"
    echo "GUEST-V2-BAD-TOKEN=$(raw 'GET /latest/meta-data/ami-id HTTP/1.1\r\nX-metadata-token: foo\r\n\r\n' |
        head -n 1 | tr -d '\r')"
    echo "GUEST-V2-DONE"
    exit 0
fi

echo "GUEST-V1-TEXT=$(get "http://$mmds/latest/meta-data/ami-id" 2>&1 | oneline)"
echo "GUEST-V1-LIST=$(get "http://$mmds/latest/meta-data/" 2>&1 | oneline)"
echo "GUEST-V1-JSON=$(get --header 'Accept: application/json' "http://$mmds/latest/meta-data/" 2>&1 |
    oneline)"

# Warm up (first-use allocations belong to the baseline), then let the sandbox sample the
# VMM's RSS before and after 1,000 sequential requests.
i=0
while [ $i -lt 50 ]; do get "http://$mmds/latest/meta-data/ami-id" >/dev/null; i=$((i + 1)); done
mkfifo /run/hold
exec 3<>/run/hold
echo "GUEST-LOAD-READY"
timeout 120 nc -l -p 6000 <&3 >/run/go
ok=0 i=0
while [ $i -lt 1000 ]; do
    [ "$(get "http://$mmds/latest/meta-data/ami-id")" = ami-12345678 ] && ok=$((ok + 1))
    i=$((i + 1))
done
echo "GUEST-LOAD-DONE=$ok"
timeout 120 nc -l -p 6001 <&3 >/run/go2

# MMDS requests while 64 MiB go to the sandbox over TCP on the same interface.
/sbin/guestbench tcpsend 172.16.0.1 5001 64 >/run/bulk.out 2>&1 &
bulk=$!
ok=0 i=0 during=0
while [ $i -lt 50 ]; do
    [ "$(get "http://$mmds/latest/meta-data/ami-id")" = ami-12345678 ] && ok=$((ok + 1))
    kill -0 $bulk 2>/dev/null && during=$((during + 1))
    i=$((i + 1))
done
echo "GUEST-CONCURRENT-MMDS=$ok during=$during"
wait $bulk
rc=$?
echo "GUEST-BULK-RC=$rc $(oneline </run/bulk.out)"
