# Guest side of the block suite (installed as /etc/ember-test, run by busybox sh).
# Drives: vda root, vdb data (64 MiB, random from the host), vdc read-only, vdd discard target.
# Prints GUEST-* lines that block_in_vm.sh compares with the files after the VM ends.
sha() { sha256sum | cut -d' ' -f1; }

echo "GUEST-ROOT=$(grep ' / ' /proc/mounts | head -1)"
echo "GUEST-DISKS=$(cd /sys/block && echo vd*)"

# Read path: what the host wrote.
echo "GUEST-VDB-BEFORE=$(sha </dev/vdb)"
# Write path: 64 MiB of new random data, flushed, then read back past the page cache.
echo "GUEST-VDB-WRITTEN=$(head -c 67108864 /dev/urandom | tee /dev/vdb | sha)"
sync
echo 3 >/proc/sys/vm/drop_caches
echo "GUEST-VDB-READBACK=$(sha </dev/vdb)"

# A read-only drive: the kernel sees the RO feature and refuses the write.
echo "GUEST-VDC-RO=$(cat /sys/block/vdc/ro)"
if dd if=/dev/zero of=/dev/vdc bs=4096 count=1 conv=fsync 2>/dev/null; then
    echo "GUEST-VDC-WRITE=succeeded"
else
    echo "GUEST-VDC-WRITE=refused"
fi

# DISCARD over the whole drive: the host file's blocks are punched out.
echo "GUEST-VDD-DISCARD-MAX=$(cat /sys/block/vdd/queue/discard_max_bytes)"
if blkdiscard /dev/vdd; then echo "GUEST-VDD-DISCARD=ok"; else echo "GUEST-VDD-DISCARD=failed"; fi
sync
