#!/bin/sh
# The clone test's guest program (put into the rootfs as /etc/ember-test, run by init). eth0 gets
# 172.16.0.2; then every second it prints
#   TICK n=<count> up=<uptime> date=<wall clock, s> marker=<the scratch drive's first line>
# reading the scratch drive /dev/vdb past the guest's page cache each time, so a clone that was
# given its own scratch file (drive_overrides) shows that file's marker.
ip addr add 172.16.0.2/24 dev eth0
ip link set eth0 up
echo "CLONES-GUEST-START"
n=0
while true; do
    read -r up _ </proc/uptime
    blockdev --flushbufs /dev/vdb 2>/dev/null
    marker=$(dd if=/dev/vdb bs=512 count=1 iflag=direct 2>/dev/null | head -n 1 | tr -d '\0')
    echo "TICK n=$n up=$up date=$(date +%s) marker=$marker"
    n=$((n + 1))
    sleep 1
done
