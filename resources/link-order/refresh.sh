#!/usr/bin/env bash
# Rewrites ember.order, the order in which lld lays out ember's functions and data
# (CMakeLists.txt): what a boot uses first, then everything else. The kernel maps a binary's pages
# 64 KiB at a time around each page the process touches (fault-around), so code that runs
# scattered among code that does not puts most of the binary in the monitor's RSS; packed
# together it takes a few hundred KiB. A jail copies the binary, so these pages are each VM's own.
# How, in one ember-sandbox run of the demo microVM (API socket, root on virtio-block, virtio-net
# with a ping, a disk read, boot timer):
# 1. ember built with -finstrument-functions and function_trace.cc in TRACE_DIR (default
#    build-trace) boots it, pauses it and snapshots it; a second one restores the snapshot (File
#    backend) and runs the guest to its reboot. Both record each of their functions as they first
#    enter them: those BUILD_DIR's ember (default build) has too come first, in that order (the
#    traced build also has an out-of-line copy of every inline function);
# 2. BUILD_DIR's ember boots with fault-around off, and what else it touched follows, in address
#    order: the C and C++ runtimes' functions (not traced) whose first page it touched, and data
#    on any page it touched.
# Rerun it when the boot path changes much: a function missing from the list still works, it only
# lands among the cold code; a name the build lacks is skipped.
# Usage: resources/link-order/refresh.sh [BUILD_DIR [TRACE_DIR]]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
shipped="$(realpath -m "${1:-$root/build}")/ember"
build="$(realpath -m "${2:-$root/build-trace}")"
[[ -x $shipped ]] || { echo "refresh.sh: no $shipped: build it first" >&2; exit 2; }
cd "$root"

mkdir -p "$build"
c++ -std=c++20 -O2 -Wall -Wextra -Werror -c "$here/function_trace.cc" -o "$build/function_trace.o"
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DEMBER_BUILD_TESTS=OFF \
    -DCMAKE_CXX_FLAGS=-finstrument-functions \
    -DCMAKE_EXE_LINKER_FLAGS="$build/function_trace.o" >/dev/null
cmake --build "$build" --target ember
eval "$(./resources/guest/images.sh --ensure)"

work="$(mktemp -d /tmp/ember-order.XXXXXX)"
trap 'rm -rf "$work"' EXIT
cp "$ROOTFS" "$work/rootfs.ext4"
cp "$shipped" "$work/ember-shipped"
# The guest's last command gives the host the time to read the shipped ember's page table; its
# marker is computed so that the kernel's echo of its command line does not match.
cat >"$work/vm.json" <<'JSON'
{
  "boot-source": {
    "kernel_image_path": "bzImage",
    "boot_args": "console=ttyS0 reboot=k panic=1 nomodule i8042.noaux i8042.nomux i8042.dumbkbd ember.test=\"ip addr add 172.30.0.2/24 dev eth0; ip link set eth0 up; ping -c 3 172.30.0.1; dd if=/dev/vda of=/dev/null bs=64k count=64; echo EMBER-ORDER-DONE-$((6*7)); sleep 20\""
  },
  "machine-config": { "vcpu_count": 2, "mem_size_mib": 256 },
  "drives": [
    { "drive_id": "rootfs", "path_on_host": "rootfs.ext4", "is_root_device": true, "is_read_only": false }
  ],
  "network-interfaces": [
    { "iface_id": "eth0", "host_dev_name": "embertrace0", "guest_mac": "06:00:ac:1e:00:02" }
  ]
}
JSON
cat >"$work/trace.sh" <<'SH'
ip tuntap add embertrace0 mode tap || exit 1
ip addr add 172.30.0.1/24 dev embertrace0 && ip link set embertrace0 up
api() {  # api METHOD PATH BODY: the HTTP status
    curl -sS --max-time 120 --unix-socket api.sock -X "$1" "http://localhost$2" \
        -H 'Content-Type: application/json' --data "$3" -o /dev/null -w '%{http_code}'
}
until_seen() {  # until_seen TEXT FILE: waits up to 120 s for TEXT in FILE
    for _ in $(seq 1200); do grep -q "$1" "$2" && return 0; sleep 0.1; done
    cat "$2"; echo "no $1 in $2"; exit 1
}
# 1: boot, pause, snapshot; then restore the snapshot in a new process, which runs the guest on
# until it reboots. Both append to one trace: boot first, then what only a restore runs.
export EMBER_FUNCTION_TRACE=$PWD/trace.txt
ember --api-sock api.sock --boot-timer --config-file vm.json >console.txt 2>&1 &
pid=$!
until_seen EMBER-ORDER-DONE-42 console.txt
grep -E 'EMBER-GUEST|packets' console.txt
[[ $(api PATCH /vm '{"state": "Paused"}') == 204 ]] || { echo "pause failed"; exit 1; }
[[ $(api PUT /snapshot/create '{"snapshot_type": "Full", "snapshot_path": "vm.snap",
    "mem_file_path": "vm.mem"}') == 204 ]] || { echo "snapshot/create failed"; exit 1; }
kill "$pid"
wait "$pid"
rm -f api.sock
ember --api-sock api.sock >console-restore.txt 2>&1 &
pid=$!
until_seen 'API server started' console-restore.txt
[[ $(api PUT /snapshot/load '{"snapshot_path": "vm.snap", "mem_backend": {"backend_type": "File",
    "backend_path": "vm.mem"}, "resume_vm": true}') == 204 ]] || { echo "snapshot/load failed"; exit 1; }
wait "$pid" || { cat console-restore.txt; echo "the restored ember failed"; exit 1; }
echo "restored guest ran to its reboot"
unset EMBER_FUNCTION_TRACE
rm -f api.sock vm.snap vm.mem
echo "TRACE-START"
cat trace.txt
# 2: every page of the binary the process has mapped, with fault-around off.
mount -t debugfs none /sys/kernel/debug 2>/dev/null
echo 4096 >/sys/kernel/debug/fault_around_bytes || exit 1
rm -f api.sock
./ember-shipped --api-sock api.sock --boot-timer --config-file vm.json >console2.txt 2>&1 &
pid=$!
until_seen EMBER-ORDER-DONE-42 console2.txt
echo "PAGES-START"
grep ' /[^ ]*/ember-shipped$' "/proc/$pid/maps" | while read -r range _; do
    start=$((16#${range%-*})) end=$((16#${range#*-}))
    dd if="/proc/$pid/pagemap" bs=8 skip=$((start / 4096)) count=$(((end - start) / 4096)) \
        2>/dev/null | od -An -v -t x8 -w8 |
        awk -v s="$start" '$1 ~ /^[89a-f]/ {printf "%x\n", s + (NR - 1) * 4096}'
done
wait "$pid" || { cat console2.txt; exit 1; }
ip link del embertrace0
SH
nm --defined-only "$build/ember" | awk '$2 ~ /^[tTwW]$/ {print $1, $3}' >"$work/traced.txt"
nm --defined-only -n -S "$shipped" | awk 'NF == 4 {print $1, $2, $3, $4}' >"$work/shipped.txt"
# Ember's own functions (its objects and archives, templates they instantiate included) are
# traced; the page pass adds only code from elsewhere (libc, libstdc++, libgcc) and data.
find "$build" -name '*.o' -o -name '*.a' | xargs nm --defined-only 2>/dev/null |
    awk 'NF == 3 && $2 ~ /^[tTwW]$/ {print $3}' | sort -u >"$work/own.txt"
"$root/resources/sandbox/ember-sandbox" run --timeout 900 --retry-outer-crash 1 \
    --bin "$build/ember" --bin "$(command -v curl)" --file "$work/ember-shipped:ember-shipped" \
    --file "$BZIMAGE:bzImage" --file "$work/rootfs.ext4:rootfs.ext4" \
    --file "$work/vm.json:vm.json" --file "$work/trace.sh:trace.sh" -- bash trace.sh >"$work/out.txt" ||
    { cat "$work/out.txt"; echo "refresh.sh: the traced boot failed; ember.order is unchanged" >&2; exit 1; }
grep -E "EMBER-GUEST|packets|restored guest" "$work/out.txt" | sed "s/^/refresh.sh: guest: /" >&2 ||
    true
# Output of a rerun after an outer VM crash follows the failed run's: the last TRACE-START counts.
awk '/^TRACE-START$/ {n = 0} /^PAGES-START$/ {p = 0}
     /^(TRACE|PAGES)-START$/ {part = $0; next}
     part == "TRACE-START" {trace[++n] = $1}
     part == "PAGES-START" {pages[++p] = $1}
     END {for (i = 1; i <= n; i++) print "T", trace[i]; for (i = 1; i <= p; i++) print "P", pages[i]}' \
    "$work/out.txt" >"$work/records.txt"
awk 'function hex(s,   i, v) {v = 0; s = tolower(s)
         for (i = 1; i <= length(s); i++) v = v * 16 + index("0123456789abcdef", substr(s, i, 1)) - 1
         return v}
     FILENAME == ARGV[1] {own[$1] = 1; next}
     FILENAME == ARGV[2] {traced[hex($1)] = $2; next}
     FILENAME == ARGV[3] {if ($3 ~ /^[tTwW]$/ && ($4 in own)) {have[$4] = 1; next}
                          start[++m] = hex($1); size[m] = hex($2); name[m] = $4; have[$4] = 1
                          code[m] = ($3 ~ /^[tTwW]$/); next}
     $1 == "T" && (hex($2) in traced) && have[traced[hex($2)]] && !(traced[hex($2)] in listed) {
         listed[traced[hex($2)]] = 1; print traced[hex($2)]; next}
     $1 == "P" {touched[int(hex($2) / 4096)] = 1}
     END {for (i = 1; i <= m; i++) {
              if (name[i] in listed) continue
              first = int(start[i] / 4096); last = int((start[i] + size[i] - 1) / 4096)
              if (size[i] == 0) continue
              # Code runs from its entry, so its first page tells; data may be read anywhere.
              if (code[i]) last = first
              for (pg = first; pg <= last; pg++)
                  if (pg in touched) {listed[name[i]] = 1; print name[i]; break}}}' \
    "$work/own.txt" "$work/traced.txt" "$work/shipped.txt" "$work/records.txt" >"$here/ember.order"
echo "refresh.sh: $(grep -c '^T' "$work/records.txt") first entries traced (two processes)," \
    "$(grep -c '^P' "$work/records.txt") pages touched; $(wc -l <"$here/ember.order") symbols" \
    "in $here/ember.order" >&2
