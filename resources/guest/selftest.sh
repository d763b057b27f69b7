#!/usr/bin/env bash
# Boots the guest kernel (bzImage and PVH vmlinux) with the ext4 root and with the initrd under
# QEMU's microvm machine and checks what Ember's tests rely on: the init marker, the test
# command and its exit status, nproc, --add files, the ember.test= override, and that QEMU
# exits once the guest reboots.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

usage() {
    cat <<USAGE
Usage: $(basename "$0") [--accel auto|kvm|tcg] [--timeout SECONDS] [--keep]

Builds (or takes from the cache) the guest kernel, builds a test rootfs and initrd in a
temporary folder, boots five combinations under qemu-system-x86_64 -M microvm,acpi=off
-smp 2 -m 256, and checks each console log. Prints one line per boot and exits non-zero if any
check fails (showing the end of that boot's console).

Options:
  --accel A        kvm (needs /dev/kvm), tcg (software CPU, slow) or auto (default: kvm when
                   /dev/kvm is backed by kvm_intel or kvm_amd, else tcg)
  --timeout S      limit per boot (default 60 with kvm, 300 with tcg)
  --keep           keep the temporary folder (images and console logs) and print its path
  -h, --help       this text
USAGE
}

accel=auto
timeout_s=""
keep=0
while (($#)); do
    case "$1" in
        --accel) (($# >= 2)) || ember_die "--accel needs a value"; accel="$2"; shift 2 ;;
        --timeout) (($# >= 2)) || ember_die "--timeout needs a value"; timeout_s="$2"; shift 2 ;;
        --keep) keep=1; shift ;;
        -h|--help) usage; exit 0 ;;
        *) ember_die "unknown argument $1 (see --help)" ;;
    esac
done
if [[ "$accel" == auto ]]; then
    # A /dev/kvm backed by kvm_intel/kvm_amd runs stock guests. Some hosts expose a /dev/kvm
    # that does not (e.g. kvm_pvm, which needs PVM-aware guest kernels): use TCG there.
    accel=tcg
    if [[ -r /dev/kvm && -w /dev/kvm ]] && [[ -d /sys/module/kvm_intel || -d /sys/module/kvm_amd ]]; then
        accel=kvm
    fi
fi
case "$accel" in
    kvm) cpu=host; timeout_s="${timeout_s:-60}" ;;
    tcg) cpu=max; timeout_s="${timeout_s:-300}" ;;
    *) ember_die "--accel: expected auto, kvm or tcg, got $accel" ;;
esac
qemu="$(command -v qemu-system-x86_64 || true)"
[[ -n "$qemu" ]] || ember_die "qemu-system-x86_64 not found (apt-get install qemu-system-x86)"

eval "$("$EMBER_GUEST_DIR/build-kernel.sh")"

work="$(mktemp -d "${TMPDIR:-/tmp}/ember-guest-selftest.XXXXXX")"
if ((keep)); then
    trap 'ember_note "kept $work"' EXIT
else
    trap 'rm -rf "$work"' EXIT
fi

echo "EMBER-ADD-OK" >"$work/added.txt"
# shellcheck disable=SC2016  # expanded by the guest's shell, not here
baked='echo "EMBER-NPROC=$(nproc)"; cat /opt/ember/added.txt; exit 7'
"$EMBER_GUEST_DIR/build-rootfs.sh" "$work/rootfs.ext4" --size 64M --test-cmd "$baked" --add "$work/added.txt:/opt/ember/added.txt"
"$EMBER_GUEST_DIR/build-initrd.sh" "$work/initrd.cpio.gz" --test-cmd "$baked" --add "$work/added.txt:/opt/ember/added.txt"

# QEMU's microvm has no i8042 and no reset register: reboot=k (Firecracker's and Ember's exit
# path) only falls through to a triple fault after the other methods time out, which under a
# loaded TCG host took minutes. reboot=t triple-faults at once; QEMU -no-reboot then exits.
base_cmdline="console=ttyS0 reboot=t panic=1"
failures=0

# boot NAME KERNEL ROOT(rootfs|initrd) EXPECTED_EXIT [EXTRA_CMDLINE]
boot() {
    local name="$1" kernel="$2" root="$3" expected_exit="$4" extra="${5:-}"
    local log="$work/$name.log" cmdline="$base_cmdline"
    local -a disk=()
    if [[ "$root" == rootfs ]]; then
        cmdline+=" root=/dev/vda rw"
        # shellcheck disable=SC2054  # commas belong to QEMU option values
        disk=(-drive "id=root,file=$work/rootfs.ext4,format=raw,if=none" -device virtio-blk-device,drive=root)
    else
        disk=(-initrd "$work/initrd.cpio.gz")
    fi
    [[ -z "$extra" ]] || cmdline+=" $extra"
    local started=$EPOCHREALTIME rc=0
    timeout "$timeout_s" "$qemu" -M microvm,acpi=off -accel "$accel" -cpu "$cpu" -m 256 -smp 2 \
        -nographic -no-reboot -kernel "$kernel" -append "$cmdline" "${disk[@]}" \
        </dev/null >"$log" 2>&1 || rc=$?
    local ms
    ms="$(awk -v a="$started" -v b="$EPOCHREALTIME" 'BEGIN { printf "%d", (b - a) * 1000 }')"
    tr -d '\r' <"$log" >"$log.clean"

    local -a problems=()
    ((rc == 0)) || problems+=("qemu exit status $rc$( ((rc == 124)) && echo ' (timeout: the guest did not reboot)')")
    grep -qx 'EMBER-GUEST-INIT-OK' "$log.clean" || problems+=("no EMBER-GUEST-INIT-OK line")
    grep -qx 'EMBER-NPROC=2' "$log.clean" || problems+=("no EMBER-NPROC=2 line")
    grep -qx "EMBER-TEST-EXIT=$expected_exit" "$log.clean" || problems+=("no EMBER-TEST-EXIT=$expected_exit line")
    if [[ "$expected_exit" == 7 ]]; then
        grep -qx 'EMBER-ADD-OK' "$log.clean" || problems+=("--add file not in the guest")
    fi
    ! grep -q 'boot-timer-signal' "$log.clean" || problems+=("boot-timer-signal complained: $(grep -m1 'boot-timer-signal' "$log.clean")")
    local uptime
    uptime="$(sed -n 's/^EMBER-GUEST-UPTIME=//p' "$log.clean" | head -1)"

    if ((${#problems[@]})); then
        printf 'FAIL  %-22s %6d ms\n' "$name" "$ms"
        printf '      %s\n' "${problems[@]}"
        echo "      --- last console lines ($log) ---"
        tail -n 25 "$log.clean" | sed 's/^/      | /'
        failures=$((failures + 1))
    else
        printf 'ok    %-22s %6d ms  (guest uptime at init %s s)\n' "$name" "$ms" "${uptime:-?}"
    fi
}

echo "selftest: qemu microvm, accel=$accel, -smp 2 -m 256, timeout ${timeout_s}s per boot"
boot bzimage-rootfs "$BZIMAGE" rootfs 7
boot pvh-vmlinux-rootfs "$VMLINUX" rootfs 7
boot bzimage-initrd "$BZIMAGE" initrd 7
boot pvh-vmlinux-initrd "$VMLINUX" initrd 7
# shellcheck disable=SC2016  # expanded by the guest's shell
boot cmdline-test-override "$BZIMAGE" rootfs 5 'ember.test="echo EMBER-NPROC=$(nproc); exit 5"'

if ((failures)); then
    echo "selftest: $failures boot(s) failed"
    exit 1
fi
echo "selftest: all boots passed"
