#!/bin/sh
# Runs inside ember-sandbox; see jailed_boot_test.sh. The sandbox's root is the initramfs, on which
# pivot_root(2) is impossible (EINVAL), so the test first moves into a bind mount of it, as a host
# with a real root file system would be. Exit status 0 means every check passed.
set -u
fail() {
    echo "jailed_boot_in_vm: FAIL: $*" >&2
    for f in jail.log console.txt; do echo "---- $f" >&2; cat "$f" >&2; done
    exit 1
}

if [ -z "${EMBER_IN_BIND_ROOT:-}" ]; then
    mkdir -p /sys/fs/cgroup
    grep -q " /sys/fs/cgroup cgroup2 " /proc/mounts ||
        mount -t cgroup2 cgroup2 /sys/fs/cgroup || fail "mount cgroup2"
    mkdir -p /bindroot
    mount --rbind / /bindroot || fail "bind mount /"
    exec env EMBER_IN_BIND_ROOT=1 chroot /bindroot /bin/sh -c "cd '$PWD' && exec sh '$0'"
fi

id=jailed-boot-1
base=/srv/jailer
jail=$base/ember/$id/root
mkdir -p "$jail"
cp bzImage initrd vm.json "$jail/"
chown -R 1234:1234 "$jail"

start=$(date +%s)
ember-jailer --id "$id" --exec-file "$PWD/bin/ember" --uid 1234 --gid 1234 \
    --cgroup-version 2 --cgroup pids.max=64 --resource-limit no-file=1024 \
    -- --config-file vm.json --no-api --level Info >console.txt 2>jail.log &
jailer_pid=$!

# The jailer execs ember in place: the same pid. Wait for the guest's init, then look at ember's
# threads while the guest sleeps.
i=0
until grep -q EMBER-GUEST-INIT-OK console.txt 2>/dev/null; do
    i=$((i + 1))
    [ $i -gt 600 ] && fail "no EMBER-GUEST-INIT-OK after 300 s"
    kill -0 $jailer_pid 2>/dev/null || fail "ember ended before the guest's init"
    sleep 0.5
done
exe=$(readlink /proc/$jailer_pid/exe)
# Seen from outside its mount namespace, the jail's /ember has no meaningful host path; it
# must at least not be the copy the jailer was given.
case "$exe" in "$PWD/bin/ember") fail "ember runs from outside its jail" ;; */ember) ;;
    *) fail "pid $jailer_pid runs '$exe', not ember" ;; esac
threads=0
for status in /proc/$jailer_pid/task/*/status; do
    name=$(sed -n 's/^Name:\t//p' "$status")
    mode=$(sed -n 's/^Seccomp:\t//p' "$status")
    echo "thread '$name': Seccomp: $mode"
    [ "$mode" = 2 ] || fail "thread '$name' has Seccomp: $mode"
    threads=$((threads + 1))
done
[ $threads -ge 3 ] || fail "expected the vmm thread and 2 vCPU threads, saw $threads"
uid=$(sed -n 's/^Uid:\t\([0-9]*\).*/\1/p' /proc/$jailer_pid/status)
[ "$uid" = 1234 ] || fail "ember runs as uid $uid"
root_link=$(readlink /proc/$jailer_pid/root)
echo "ember's root: $root_link"
cgroup=$(cat /proc/$jailer_pid/cgroup)
echo "ember's cgroup: $cgroup"
case "$cgroup" in *"/ember/$id"*) ;; *) fail "ember is not in its cgroup: $cgroup" ;; esac

wait $jailer_pid
rc=$?
echo "ember exit $rc after $(( $(date +%s) - start )) s"
[ $rc -eq 0 ] || fail "ember exited $rc"
grep -q "EMBER-TEST-EXIT=0" console.txt || fail "guest test command did not finish"
echo "jailed_boot_in_vm: all checks passed"
