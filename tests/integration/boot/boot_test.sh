#!/bin/bash
# Boots a Linux guest with `ember --config-file ... --no-api` and checks that the guest reaches
# its init (EMBER-GUEST-INIT-OK on the console) and that ember exits 0 when the guest reboots; with
# --repeat N, N boots in one sandbox run must all do so (for faults that show up now and then).
# Runs through resources/sandbox/ember-sandbox: directly where /dev/kvm is kvm_intel/kvm_amd,
# else in the sandbox's QEMU (TCG) VM. Prints the launch -> init marker time, the launch -> first
# KVM_RUN time and the boot timer's line.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
source "$here/../lib/host.sh"

usage() {
    cat <<USAGE
Usage: $(basename "$0") --ember PATH [options]
  --ember PATH        the ember binary (required)
  --kernel-format F   bzimage (default) | vmlinux (ELF; PVH when the kernel has the note) |
                      vmlinux-64bit (the same ELF with its PVH note disabled: 64-bit entry)
  --expect REGEX      an extended regex that must match a line of the output (repeatable)
  --kernel PATH       guest kernel (default: resources/guest/images.sh's BZIMAGE or VMLINUX;
                      `debian`: Debian's stock linux-image-amd64 vmlinuz, unmodified)
  --initrd PATH       initrd (default: images.sh's INITRD)
  --vcpus N           vCPU count (default 1)
  --mem MIB           guest memory (default 256)
  --boot-args ARGS    kernel command line (default: console on ttyS0, reboot through the i8042)
  --timeout S         limit for the guest run (default 240)
  --console-lines N   how many console lines to print (default 20)
  --reject REGEX      an extended regex that no line of the output may match (repeatable)
  --repeat N          boot N times in the same sandbox run; every boot must pass (default 1)
  --cpu-template T    machine-config's cpu_template (cpu_template_check.sh uses it)
  --huge-pages 2M     back guest memory with 2 MiB hugetlb pages (the sandbox reserves exactly
                      the pages the guest needs) and print HUGE_PAGES_AVAILABLE once booted
USAGE
}

expects=()
rejects=()
repeat=1
huge_pages=None
cpu_template_field=""
console_lines=20 ember="" format=bzimage kernel="" initrd="" vcpus=1 mem=256 timeout_s=240
boot_args="console=ttyS0 reboot=k panic=1 nomodule i8042.noaux i8042.nomux i8042.dumbkbd swiotlb=noforce quiet"
while (($#)); do
    case "$1" in
        --ember) ember=$2; shift 2 ;;
        --kernel-format) format=$2; shift 2 ;;
        --kernel) kernel=$2; shift 2 ;;
        --initrd) initrd=$2; shift 2 ;;
        --vcpus) vcpus=$2; shift 2 ;;
        --mem) mem=$2; shift 2 ;;
        --boot-args) boot_args=$2; shift 2 ;;
        --timeout) timeout_s=$2; shift 2 ;;
        --console-lines) console_lines=$2; shift 2 ;;
        --expect) expects+=("$2"); shift 2 ;;
        --reject) rejects+=("$2"); shift 2 ;;
        --repeat) repeat=$2; shift 2 ;;
        --huge-pages) huge_pages=$2; shift 2 ;;
        --cpu-template) cpu_template_field=", \"cpu_template\": \"$2\""; shift 2 ;;
        -h|--help) usage; exit 0 ;;
        *) echo "boot_test: unknown argument $1" >&2; usage >&2; exit 2 ;;
    esac
done
[[ -n "$ember" && -x "$ember" ]] || { echo "boot_test: --ember must name the built binary" >&2; exit 2; }

if [[ "$kernel" == debian ]]; then
    eval "$("$root/resources/guest/fetch-debian-kernel.sh")"
    kernel=$VMLINUZ
fi
if [[ -z "$kernel" || -z "$initrd" ]]; then
    load_guest_images boot_test
    if [[ -z "$kernel" ]]; then
        if [[ "$format" == vmlinux* ]]; then kernel=$VMLINUX; else kernel=$BZIMAGE; fi
    fi
    [[ -n "$initrd" ]] || initrd=$INITRD
fi

work="$(mktemp -d /tmp/ember-boot-test.XXXXXX)"
trap 'rm -rf "$work"' EXIT
cp "$kernel" "$work/kernel"
if [[ "$format" == vmlinux-64bit ]]; then
    # Retype the Xen PVH entry note (type 18) so that the loader takes the 64-bit entry instead.
    python3 - "$work/kernel" <<'PY'
import struct, sys
path = sys.argv[1]
data = bytearray(open(path, "rb").read())
phoff, = struct.unpack_from("<Q", data, 0x20)
phentsize, phnum = struct.unpack_from("<HH", data, 0x36)
patched = 0
for i in range(phnum):
    p_type, _, p_offset, _, _, p_filesz = struct.unpack_from("<IIQQQQ", data, phoff + i * phentsize)
    if p_type != 4:  # PT_NOTE
        continue
    off, end = p_offset, p_offset + p_filesz
    while off + 12 <= end:
        namesz, descsz, ntype = struct.unpack_from("<III", data, off)
        name = bytes(data[off + 12:off + 12 + namesz]).rstrip(b"\0")
        if name == b"Xen" and ntype == 18:
            struct.pack_into("<I", data, off + 8, 0x7fff)
            patched += 1
        off += 12 + (namesz + 3) // 4 * 4 + (descsz + 3) // 4 * 4
if not patched:
    sys.exit("boot_test: no PVH note to disable in " + path)
open(path, "wb").write(data)
PY
fi
cp "$initrd" "$work/initrd"
cat >"$work/vm.json" <<JSON
{
  "boot-source": {
    "kernel_image_path": "kernel",
    "initrd_path": "initrd",
    "boot_args": "$boot_args"
  },
  "machine-config": { "vcpu_count": $vcpus, "mem_size_mib": $mem, "huge_pages": "$huge_pages"$cpu_template_field }
}
JSON

choose_sandbox_mode
if [[ ! "$repeat" =~ ^[1-9][0-9]*$ ]]; then
    echo "boot_test: --repeat needs a positive number" >&2
    exit 2
fi
sandbox_mem=3072
((mem + 1024 > sandbox_mem)) && sandbox_mem=$((mem + 1536))

reserve=""
[[ "$huge_pages" == 2M ]] && reserve=$((mem / 2))

out="$work/out.txt"
set +e
sandbox_timeout_s=$((timeout_s * repeat + 120))
# A crashed or frozen outer VM (not Ember's doing) is run again once; only the output of the last
# run counts (from its RUN-IN-VM-START line on). A run with a nested triple fault runs again, up
# to twice (nested_triple_fault in lib/host.sh).
sandbox_run_rerun boot_test "$out" \
    --timeout "$sandbox_timeout_s" --mem "$sandbox_mem" --bin "$ember" \
    --file "$work/kernel:kernel" --file "$work/initrd:initrd" \
    --file "$work/vm.json:vm.json" --file "$here/run_in_vm.sh:run_in_vm.sh" \
    -- env EMBER_HUGE_PAGES="$reserve" \
    bash run_in_vm.sh vm.json "$timeout_s" "$console_lines" "$repeat"
sandbox_rc=$?
set -e
cat "$out"

markers="$(grep -c '^MARKER_MS=' "$out" || true)"
clean_exits="$(grep -c '^EMBER_EXIT=0$' "$out" || true)"
marker_ms="$(sed -n 's/^MARKER_MS=//p' "$out" | paste -sd, -)"
exit_code="$(sed -n 's/^EMBER_EXIT=//p' "$out" | paste -sd, -)"
first_run="$(sed -n 's/.*First KVM_RUN of vCPU 0 at \([0-9]*\) us after launch.*/\1/p' "$out" |
    paste -sd, -)"
boot_time="$(grep -o 'Guest-boot-time = .*' "$out" | paste -sd';' - || true)"
echo "RESULT format=$format vcpus=$vcpus mem_mib=$mem boots=$repeat" \
     "launch_to_init_marker_ms=${marker_ms:-none} launch_to_first_kvm_run_us=${first_run:-none}" \
     "exit=${exit_code:-none} ($boot_time)"
if [[ $sandbox_rc -ne 0 ]]; then echo "boot_test: FAIL: sandbox exit $sandbox_rc" >&2; exit 1; fi
if ((markers != repeat)); then
    echo "boot_test: FAIL: EMBER-GUEST-INIT-OK in $markers of $repeat boots" >&2; exit 1
fi
if ((clean_exits != repeat)); then
    echo "boot_test: FAIL: ember exited ${exit_code:-?} ($clean_exits of $repeat clean)" >&2; exit 1
fi
for re in "${expects[@]}"; do
    matches="$(grep -Ec -- "$re" "$out" || true)"
    if ((matches < repeat)); then
        echo "boot_test: FAIL: /$re/ matched $matches lines for $repeat boots" >&2; exit 1
    fi
    echo "boot_test: found /$re/"
done
for re in "${rejects[@]}"; do
    if grep -Eq -- "$re" "$out"; then
        echo "boot_test: FAIL: a line matches /$re/:" >&2
        grep -E -m 3 -- "$re" "$out" >&2
        exit 1
    fi
    echo "boot_test: no line matches /$re/"
done
echo "boot_test: PASS"
