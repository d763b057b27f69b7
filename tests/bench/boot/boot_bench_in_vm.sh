#!/bin/bash
# Runs inside ember-sandbox: boots the same bzImage + initrd alternately with Ember and with QEMU's
# microvm machine, ROUNDS times each, each VM with one virtio drive (a sparse 64 MiB file) and one
# virtio-net interface (a tap of its own), and prints one line per boot:
#   BOOT vmm=<ember|qemu> round=<n> marker_ms=<launch -> EMBER-GUEST-INIT-OK>
#        uptime_ms=<the guest's /proc/uptime at init> first_kvm_run_us=<..>
#        monitor_rss_kib=<the VMM's RSS but its guest memory, at the marker>
#        monitor_anon_kib=<of it, anonymous memory: heap, stacks> rss_kib=<all of it>
# The guest sleeps a second after init (ember.test), so that the VMM is still there to be read.
# Usage: boot_bench_in_vm.sh ROUNDS
set -u
rounds=$1
mib=128
args="console=ttyS0 panic=1 nomodule i8042.noaux i8042.nomux i8042.dumbkbd swiotlb=noforce quiet"
args="$args ember.test=\"sleep 1\""

# rss_of PID: "<RSS but the guest memory> <of it anonymous> <RSS>" in KiB, from smaps: guest
# memory is every mapping of at least the guest's size (one region at 128 MiB for both VMMs).
rss_of() {
    awk -v guest_kib=$((mib * 1024)) '
        /^[0-9a-f]+-[0-9a-f]+ / {in_guest = 0}
        $1 == "Size:" {in_guest = ($2 >= guest_kib)}
        $1 == "Rss:" {all += $2; if (in_guest) guest += $2}
        $1 == "Anonymous:" && !in_guest {anon += $2}
        END {if (all) print all - guest, anon, all; else print "none none none"}' \
        "/proc/$1/smaps" 2>/dev/null || echo "none none none"
}

# newest_pid NAME: the newest process started as NAME (argv[0]; ember renames its threads, and
# the sandbox has no pgrep).
newest_pid() {
    local dir argv0 newest=""
    for dir in /proc/[0-9]*; do
        IFS= read -r -d '' argv0 2>/dev/null <"$dir/cmdline" || continue
        [[ ${argv0##*/} == "$1" ]] && ((${dir#/proc/} > ${newest:-0})) && newest=${dir#/proc/}
    done
    echo "$newest"
}

# Runs a command, timestamps the console, kills nothing: each guest reboots by itself.
time_boot() {
    local vmm=$1 round=$2 name=$3; shift 3
    local start=$EPOCHREALTIME marker_ms=none uptime_ms=none rss=(none none none)
    "$@" </dev/null 2>"$vmm.log" | {
        while IFS= read -r line; do
            if [[ $marker_ms == none && $line == *EMBER-GUEST-INIT-OK* ]]; then
                now=$EPOCHREALTIME
                marker_ms=$(( (${now/./} - ${start/./}) / 1000 ))
                read -r -a rss <<<"$(rss_of "$(newest_pid "$name")")"
            elif [[ $uptime_ms == none && $line =~ EMBER-GUEST-UPTIME=([0-9]+)\.([0-9]+) ]]; then
                uptime_ms=$((10#${BASH_REMATCH[1]} * 1000 + 10#${BASH_REMATCH[2]} * 10))
            fi
        done
        first=$(sed -n 's/.*First KVM_RUN of vCPU 0 at \([0-9]*\) us.*/\1/p' "$vmm.log")
        # Ember's timeline: the wall-clock stamps of its log lines, against the launch's.
        if [[ $vmm == ember ]]; then
            stamp() { grep -m1 -F "$1" "$vmm.log" | cut -d' ' -f1; }
            echo "TIMELINE round=$round launch=$start running=$(stamp 'Running Firecracker')" \
                "memory=$(stamp 'Guest memory mapped') kernel=$(stamp 'Kernel loaded')" \
                "acpi=$(stamp 'ACPI tables') kvm_run=$(stamp 'First KVM_RUN')"
        fi
        echo "BOOT vmm=$vmm round=$round marker_ms=$marker_ms uptime_ms=$uptime_ms" \
            "first_kvm_run_us=${first:-n/a} monitor_rss_kib=${rss[0]} monitor_anon_kib=${rss[1]}" \
            "rss_kib=${rss[2]}"
    }
}

truncate -s 64M scratch-ember.img scratch-qemu.img
ip tuntap add dev tap0 mode tap && ip tuntap add dev tap1 mode tap ||
    echo "boot_bench: cannot create the taps"
ip link set tap0 up
ip link set tap1 up
cat >vm.json <<JSON
{
  "boot-source": {"kernel_image_path": "bzImage", "initrd_path": "initrd", "boot_args": "$(sed 's/"/\\"/g' <<<"$args") reboot=k"},
  "machine-config": {"vcpu_count": 1, "mem_size_mib": $mib},
  "drives": [{"drive_id": "scratch", "path_on_host": "scratch-ember.img", "is_root_device": false, "is_read_only": false}],
  "network-interfaces": [{"iface_id": "eth0", "host_dev_name": "tap0"}]
}
JSON
for round in $(seq 1 "$rounds"); do
    time_boot ember "$round" ember timeout 120 ember --no-api --config-file vm.json
    # microvm has no i8042, so its guests reboot by triple fault (reboot=t).
    time_boot qemu "$round" qemu-system-x86_64 timeout 120 qemu-system-x86_64 -M microvm,acpi=off \
        -accel kvm -cpu host -smp 1 -m $mib -nodefaults -no-user-config -nographic -serial stdio \
        -no-reboot -kernel bzImage -initrd initrd -append "$args reboot=t" \
        -drive id=scratch,file=scratch-qemu.img,format=raw,if=none \
        -device virtio-blk-device,drive=scratch \
        -netdev tap,id=n0,ifname=tap1,script=no,downscript=no -device virtio-net-device,netdev=n0
done
