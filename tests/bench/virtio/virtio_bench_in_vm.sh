#!/bin/bash
# Runs inside ember-sandbox for virtio_bench.sh: the same guest kernel, rootfs and data image under
# Ember (Sync, then Async engine) and QEMU -M microvm (virtio-blk-device with aio=io_uring for the
# data drive, virtio-net-device on a tap, no vhost), ROUNDS rounds, the three in turn in each.
# Prints the guest's `BENCH key=value` lines prefixed with `RESULT vmm=<name> round=<n>`, the
# VMM process's CPU time for the whole run as `CPU vmm=<name> round=<n> user_s=.. sys_s=..`, and
# its CPU time from the previous BENCH line to each one as `PHASECPU vmm=.. round=.. key=.. cpu_s=..
# own_s=..` (whole process, and without its vCPU threads; sampled every 50 ms, so +-0.05 s).
# With ./ember-before present (virtio_bench.sh's BASELINE), it runs too, as before-sync, for a
# before-and-after in the same run.
# Usage: virtio_bench_in_vm.sh [ROUNDS [FIRST_ROUND]]   (FIRST_ROUND numbers the rounds' output)
set -u
echo "RUN-IN-VM-START"  # sandbox_run_rerun keeps the output from the last such line on
rounds=${1:-5}
first=${2:-1}
args="console=ttyS0 panic=1 nomodule i8042.noaux i8042.nomux i8042.dumbkbd swiotlb=noforce quiet"
ip tuntap add tap0 mode tap
ip addr add 172.16.0.1/24 dev tap0
ip link set tap0 up
mkfifo hold
exec 3<>hold
[[ ! -f ember-before ]] || chmod +x ember-before

head -c 67108864 /dev/zero >zeros64  # what the sandbox sends the guest

vmm_pid() {  # the running VMM's pid (one at a time)
    local p comm
    for p in /proc/[0-9]*; do
        { read -r comm <"$p/comm"; } 2>/dev/null || continue  # Gone since the glob.
        # Ember's main thread names itself "firecracker" (as Firecracker's does) once it starts.
        [[ $comm == ember || $comm == ember-before || $comm == firecracker ||
            $comm == qemu-system-x86 ]] &&
            { echo "${p#/proc/}"; return; }
    done
}
# sample_cpu CONSOLE: until the VMM ends, every 50 ms a line "BENCH-lines-so-far process-ticks
# own-ticks": the whole process's CPU (its vCPU threads run the guest, so that includes the
# guest's), and the monitor's own without its vCPU threads (Ember's "fc_vcpu N", QEMU's
# "CPU N/KVM"). At most 600 s (the VMM's timeout is 300 s), and it ends once the VMM has no live
# thread: a zombie's stat stays readable until it is reaped.
sample_cpu() {
    local pid="" _ n vcpu=0 line
    for _ in $(seq 1 400); do pid=$(vmm_pid); [[ -n $pid ]] && break; sleep 0.05; done
    [[ -n $pid ]] || return 0
    for _ in $(seq 1 12000); do
        n=$(grep -c '^BENCH ' "$1")
        # The process's line first (it keeps the CPU of threads that have ended), then each
        # thread's. Once the vCPU threads have ended (the guest rebooted), their last sampled CPU
        # stands in for them: their time must not turn into the monitor's own.
        line=$(cat /proc/"$pid"/stat /proc/"$pid"/task/*/stat 2>/dev/null | awk -v last="$vcpu" '
            {   # A name may hold spaces and parentheses: the fields start after the last ")".
                lp = index($0, "("); rp = 0; rest = $0
                while ((i = index(rest, ")")) > 0) { rp += i; rest = substr(rest, i + 1) }
                name = substr($0, lp + 1, rp - lp - 1)
                split(rest, f, " ")
                if (NR == 1) { if (f[1] == "Z" || f[1] == "X") exit 1; total = f[12] + f[13]; live = 1 }
                else if (name ~ /^fc_vcpu/ || name ~ /^CPU [0-9]+\/KVM$/) { vcpu += f[12] + f[13]; seen = 1 }
            }
            END { if (!live) exit 1; if (!seen) vcpu = last; print total, vcpu }') || break
        vcpu=${line#* }
        echo "$n ${line% *} $((${line% *} - vcpu))"
        sleep 0.05
    done
}
# phase_cpu NAME: each figure's key and the VMM's CPU seconds, whole and its own, from the
# previous BENCH line to it (the first figure's phase holds the boot: it is left out).
phase_cpu() {
    local hz
    hz=$(getconf CLK_TCK 2>/dev/null || echo 100)  # The sandbox has no getconf; x86's is 100.
    tr -d '\r' <"console-$1.txt" | sed -n 's/^BENCH \([a-z0-9_]*\)=.*/\1/p' >"keys-$1.txt"
    awk -v hz="$hz" -v vmm="$1" -v round="$round" '
        NR == FNR {key[FNR] = $1; next}
        {for (k = seen + 1; k <= $1; ++k) {cpu[k] = $2; own[k] = $3}; if ($1 > seen) seen = $1}
        END {
            for (k = 2; k <= seen; ++k)
                printf "PHASECPU vmm=%s round=%s key=%s cpu_s=%.2f own_s=%.2f\n", vmm, round,
                    key[k], (cpu[k] - cpu[k - 1]) / hz, (own[k] - own[k - 1]) / hz
        }' "keys-$1.txt" "cpu-$1.txt"
}

run() {  # run NAME COMMAND...: one guest with a fresh root copy and data image
    local name=$1; shift
    cp rootfs.ext4 root.ext4
    head -c 268435456 /dev/zero >data.img  # allocated, so no VMM reads holes
    : >"console-$name.txt"
    nc -l -p 5001 <&3 >/dev/null &
    local nc_pid=$! rc
    nc -l -p 5002 <zeros64 >/dev/null &
    local send_pid=$!
    sample_cpu "console-$name.txt" >"cpu-$name.txt" &
    local sampler_pid=$!
    # bash's `time` reports the CPU of the VMM (the child of timeout) once it has ended.
    local TIMEFORMAT='%U %S' cpu
    cpu=$({ time timeout 300 "$@" </dev/null >"console-$name.txt" 2>"log-$name.txt"; } 2>&1)
    rc=$?
    echo "INFO vmm=$name round=$round exit=$rc"
    kill $nc_pid $send_pid 2>/dev/null
    wait $sampler_pid
    tr -d '\r' <"console-$name.txt" | sed -n "s/^BENCH /RESULT vmm=$name round=$round /p"
    phase_cpu "$name"
    echo "CPU vmm=$name round=$round user_s=${cpu% *} sys_s=${cpu#* }"
    grep -q 'EMBER-TEST-EXIT=0' "console-$name.txt" || { tail -n 30 "console-$name.txt"; cat "log-$name.txt"; }
}

for engine in Sync Async; do
    cat >"vm-$engine.json" <<JSON
{
  "boot-source": {"kernel_image_path": "bzImage", "boot_args": "$args reboot=k"},
  "machine-config": {"vcpu_count": 1, "mem_size_mib": 256},
  "drives": [
    {"drive_id": "rootfs", "path_on_host": "root.ext4", "is_root_device": true, "io_engine": "$engine"},
    {"drive_id": "data", "path_on_host": "data.img", "is_root_device": false, "io_engine": "$engine"}
  ],
  "network-interfaces": [{"iface_id": "eth0", "host_dev_name": "tap0", "guest_mac": "06:00:ac:10:00:02"}]
}
JSON
done
for round in $(seq "$first" $((first + rounds - 1))); do
    for engine in Sync Async; do
        run "ember-${engine,,}" ember --no-api --config-file "vm-$engine.json"
        # The earlier build runs with the Sync engine only: its Async runs stalled the sandbox
        # twice at the same point (the fourth VM of a round), and the VMM-side changes it is
        # there to compare (virtio-net's) do not depend on the block engine.
        [[ -f ember-before && $engine == Sync ]] &&
            run "before-${engine,,}" ./ember-before --no-api --config-file "vm-$engine.json"
    done
    # debug-threads names QEMU's vCPU threads ("CPU 0/KVM") for the own-CPU sampler, which
    # otherwise sees only "qemu-system-x86" threads. microvm has no i8042: reboot=t. QEMU's default cache mode (writeback, host page cache)
    # matches Ember's, which also goes through the host page cache; its data drive on io_uring.
    run qemu qemu-system-x86_64 -L /usr/share/qemu -name qemu,debug-threads=on \
        -M microvm,acpi=off -accel kvm -cpu host -smp 1 \
        -m 256 -nodefaults -no-user-config -nographic -serial stdio -no-reboot -kernel bzImage \
        -append "$args reboot=t root=/dev/vda rw" \
        -drive id=root,file=root.ext4,format=raw,if=none -device virtio-blk-device,drive=root \
        -drive id=data,file=data.img,format=raw,if=none,aio=io_uring \
        -device virtio-blk-device,drive=data \
        -netdev tap,id=net0,ifname=tap0,script=no,downscript=no,vhost=off \
        -device virtio-net-device,netdev=net0,mac=06:00:ac:10:00:02
done
