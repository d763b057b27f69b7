#!/bin/sh
# The snapshot test's guest program (copied into the guest's root file system, run by init through
# ember.test). Counts forever: each count goes first to the data drive /dev/vdb as a fixed 32-byte
# record at index n (fsynced), then to the console as `COUNT=<n> UP=<uptime>`. A console line
# therefore always has its record on the host's file already. The writes take turns on the vCPUs,
# so the count stops if any vCPU stops running.
ip addr add 172.16.0.2/24 dev eth0
ip link set eth0 up
cpus=$(nproc)
echo "COUNTER-START cpus=$cpus"
n=0
while true; do
    read -r up _ </proc/uptime
    line="COUNT=$n UP=$up"
    # A failed write (the drive goes away while the guest reboots) is retried, never counted.
    if printf '%-31s\n' "$line" | taskset -c $((n % cpus)) \
        dd of=/dev/vdb bs=32 seek=$n count=1 iflag=fullblock conv=notrunc,fsync 2>/dev/null; then
        echo "$line"
        n=$((n + 1))
    else
        echo "DD-FAILED n=$n"
    fi
    sleep 0.3
done
