#!/bin/sh
# The vmgenid test's guest program (/etc/ember-test in the initrd, run by init): names the ACPI
# device with the VM_GEN_COUNTER id and the driver bound to it, then prints one line a second
# with 32 fresh bytes of /dev/urandom: `SAMPLE n=<n> <64 hex digits>`. The kernel's own
# "random: crng reseeded due to virtual machine fork" reaches the console between them.
for d in /sys/bus/acpi/devices/*; do
    case "$(cat "$d/modalias" 2>/dev/null)" in
        *VM_GEN_COUNTER*)
            driver=$(readlink "$d/driver")
            echo "VMGENID-DEVICE ${d##*/} hid=$(cat "$d/hid") driver=${driver##*/}"
            ;;
    esac
done
n=0
while true; do
    echo "SAMPLE n=$n $(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')"
    n=$((n + 1))
    sleep 1
done
