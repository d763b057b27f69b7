#!/bin/bash
# Runs inside ember-sandbox: boots the same bzImage + initrd alternately with Ember and with QEMU's
# microvm machine, ROUNDS times each, and prints one line per boot:
#   BOOT vmm=<ember|qemu> round=<n> marker_ms=<launch -> EMBER-GUEST-INIT-OK> first_kvm_run_us=<..>
# Usage: boot_bench_in_vm.sh ROUNDS
set -u
rounds=$1
args="console=ttyS0 panic=1 nomodule i8042.noaux i8042.nomux i8042.dumbkbd swiotlb=noforce quiet"

# Runs a command, timestamps the console, kills nothing: each guest reboots by itself.
time_boot() {
    local vmm=$1 round=$2; shift 2
    local start=$EPOCHREALTIME marker_ms=none
    "$@" </dev/null 2>"$vmm.log" | {
        while IFS= read -r line; do
            if [[ $marker_ms == none && $line == *EMBER-GUEST-INIT-OK* ]]; then
                now=$EPOCHREALTIME
                marker_ms=$(( (${now/./} - ${start/./}) / 1000 ))
            fi
        done
        first=$(sed -n 's/.*First KVM_RUN of vCPU 0 at \([0-9]*\) us.*/\1/p' "$vmm.log")
        echo "BOOT vmm=$vmm round=$round marker_ms=$marker_ms first_kvm_run_us=${first:-n/a}"
    }
}

cat >vm.json <<JSON
{
  "boot-source": {"kernel_image_path": "bzImage", "initrd_path": "initrd", "boot_args": "$args reboot=k"},
  "machine-config": {"vcpu_count": 1, "mem_size_mib": 128}
}
JSON
for round in $(seq 1 "$rounds"); do
    time_boot ember "$round" timeout 120 ember --no-api --config-file vm.json
    # microvm has no i8042, so its guests reboot by triple fault (reboot=t).
    time_boot qemu "$round" timeout 120 qemu-system-x86_64 -M microvm,acpi=off -accel kvm \
        -cpu host -smp 1 -m 128 -nodefaults -no-user-config -nographic -serial stdio -no-reboot \
        -kernel bzImage -initrd initrd -append "$args reboot=t"
done
