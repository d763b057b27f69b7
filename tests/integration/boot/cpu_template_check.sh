#!/bin/bash
# In-sandbox check that a static CPU template reaches the guest: boots the test guest with
# machine-config "cpu_template" set (boot_test.sh --cpu-template), has the guest print its
# /proc/cpuinfo identity and flags, and requires the family/model/stepping the template sets, the
# flags it forces on, and none of the flags it masks. The sandbox CPU is QEMU TCG's AMD, so T2A is
# the template that applies there (Intel-only templates are refused at InstanceStart).
#
# Usage (from the tree's root, after a build; the lead hooks it next to the other boot tests):
#   tests/integration/boot/cpu_template_check.sh --ember build/vmm/ember [--template T2A]
# Exit 0: PASS; boot_test.sh's messages say which expectation failed otherwise.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ember="" template=T2A
while (($#)); do
    case "$1" in
        --ember) ember=$2; shift 2 ;;
        --template) template=$2; shift 2 ;;
        *) echo "cpu_template_check: unknown argument $1" >&2; exit 2 ;;
    esac
done
[[ -n "$ember" ]] || { echo "cpu_template_check: --ember is required" >&2; exit 2; }

# The flags (as /proc/cpuinfo names them) whose CPUID bits T2A clears (Firecracker's
# static_cpu_templates/t2a.rs). Left out: 3dnowprefetch, which Linux sets on every AMD CPU with
# long mode whatever CPUID says (init_amd).
t2a_masked=(
    # Leaf 1 ECX / EDX.
    dtes64 monitor ds_cpl vmx smx est tm2 cid sdbg xtpr pdcm dca pn dts acpi ss tm ia64 pbe
    # Leaf 7 EBX / ECX / EDX.
    sgx hle rtm mpx avx512f avx512dq rdseed adx avx512ifma clflushopt clwb intel_pt avx512pf
    avx512er avx512cd sha_ni avx512bw avx512vl avx512vbmi umip pku ospke avx512_vbmi2 gfni vaes
    vpclmulqdq avx512_vnni avx512_bitalg avx512_vpopcntdq la57 rdpid sgx_lc avx512_4vnniw
    avx512_4fmaps fsrm avx512_vp2intersect
    # Leaf 0xD sub-leaf 1 EAX.
    xsavec xgetbv1 xsaves
    # Leaf 0x80000001 ECX / EDX, leaf 0x80000008 EBX.
    svm sse4a misalignsse mwaitx mmxext fxsr_opt pdpe1gb clzero wbnoinvd
)
# Forced on by the template whatever the host has: MCE and MTRR (leaf 1 EDX), ERMS (leaf 7 EBX).
t2a_forced=(mce mtrr erms)
# Leaf 1 EAX: family 6, model 0x3f, stepping 2 (a Haswell), also on an AMD host.
t2a_identity=("cpu family" 6 model 63 stepping 2)

case "$template" in
    T2A) masked=("${t2a_masked[@]}") forced=("${t2a_forced[@]}") identity=("${t2a_identity[@]}") ;;
    *) echo "cpu_template_check: no expectations for $template (the sandbox CPU is AMD)" >&2
       exit 2 ;;
esac

# The guest side: its init runs ember.test (no double quotes allowed inside) and prints each
# line with a CPUINFO prefix, from the first processor's block only. boot_test.sh puts the
# arguments into a JSON string as they are, hence the escaped quotes.
guest_cmd="sed -n '1,/^flags/p' /proc/cpuinfo | grep -E '^(vendor_id|cpu family|model|stepping|flags)[[:space:]]*:' | sed 's/^/CPUINFO /'"
boot_args="console=ttyS0 reboot=k panic=1 nomodule i8042.noaux i8042.nomux i8042.dumbkbd"
boot_args+=" swiotlb=noforce quiet ember.test=\\\"$guest_cmd\\\""

args=(--ember "$ember" --cpu-template "$template" --console-lines 80 --boot-args "$boot_args"
      --expect '^CPUINFO vendor_id[[:space:]]*: AuthenticAMD')
for ((i = 0; i < ${#identity[@]}; i += 2)); do
    args+=(--expect "^CPUINFO ${identity[i]}[[:space:]]*: ${identity[i + 1]}[[:space:]]*\$")
done
for flag in "${forced[@]}"; do
    args+=(--expect "^CPUINFO flags[[:space:]]*:.* ${flag}([[:space:]]|\$)")
done
masked_re="$(IFS='|'; echo "${masked[*]}")"
args+=(--reject "^CPUINFO flags[[:space:]]*:.* (${masked_re})([[:space:]]|\$)")
exec "$here/boot_test.sh" "${args[@]}"
