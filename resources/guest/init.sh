#!/bin/sh
# Ember guest init (busybox sh). Installed as /sbin/init (root filesystem) and /init (initrd).
#
# 1. mounts proc, sys, devtmpfs (dev), tmpfs (run, tmp if absent), brings up lo
# 2. prints the marker line   EMBER-GUEST-INIT-OK
# 3. signals the boot-timer device (byte 123 at guest physical 0xC0000000); harmless if absent
# 4. runs the test command, if any, and prints   EMBER-TEST-EXIT=<status>
#    The command is, first match wins:
#      - kernel command line  ember.test="shell command"   (or ember.test=word, no spaces)
#      - the file /etc/ember-test (a shell script, run with /bin/sh)
#    It runs in /root with stdout/stderr on the console. Without one, nothing runs.
#    ember.shell=1 on the command line opens an interactive shell on the console instead of
#    rebooting (for debugging by hand).
# 5. syncs and reboots (reboot -f; with reboot=k the kernel resets through the i8042, which
#    ends Ember and, with -no-reboot, QEMU).
export PATH=/sbin:/usr/sbin:/bin:/usr/bin
export HOME=/root

mounted() { grep -q "^[^ ]* $1 " /proc/mounts; }
[ -e /proc/mounts ] || mount -t proc proc /proc
mounted /sys || mount -t sysfs sysfs /sys
mounted /dev || mount -t devtmpfs devtmpfs /dev
# An initrd without /dev/console gives init no stdio: take the console explicitly.
[ -c /dev/console ] && exec </dev/console >/dev/console 2>&1
mkdir -p /dev/pts /dev/shm /run
mounted /run || mount -t tmpfs -o mode=0755 tmpfs /run
[ -w /tmp ] || mount -t tmpfs -o mode=1777 tmpfs /tmp
[ -r /etc/hostname ] && hostname -F /etc/hostname
ip link set lo up 2>/dev/null

echo "EMBER-GUEST-INIT-OK"

/sbin/boot-timer-signal 0xC0000000 123 || echo "ember-init: boot-timer-signal failed (status $?), continuing"

read -r uptime _ </proc/uptime
echo "EMBER-GUEST-UPTIME=$uptime"

cmdline=" $(cat /proc/cmdline) "
test_cmd=""
case "$cmdline" in
    *' ember.test="'*) test_cmd="${cmdline#* ember.test=\"}"; test_cmd="${test_cmd%%\"*}" ;;
    *' ember.test='*) test_cmd="${cmdline#* ember.test=}"; test_cmd="${test_cmd%% *}" ;;
esac

cd /root || cd /
if [ -n "$test_cmd" ]; then
    /bin/sh -c "$test_cmd"
    echo "EMBER-TEST-EXIT=$?"
elif [ -f /etc/ember-test ]; then
    /bin/sh /etc/ember-test
    echo "EMBER-TEST-EXIT=$?"
fi

case "$cmdline" in
    *' ember.shell=1 '*)
        echo "ember-init: ember.shell=1, starting a shell; exit it to reboot"
        setsid cttyhack /bin/sh -l || /bin/sh -l
        ;;
esac

sync
reboot -f
# reboot -f does not return; if it did, init exiting panics the kernel and panic=1 reboots it.
echo "ember-init: reboot -f failed"
sleep 2
exit 1
