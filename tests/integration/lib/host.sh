# Sourced by the host side of the integration tests (bash). The caller sets $root to the
# repository's top directory.

# load_guest_images TEST: sets BZIMAGE, VMLINUX, ROOTFS, INITRD, ... (resources/guest/images.sh),
# or exits 2 naming TEST when they are not built.
load_guest_images() {
    local paths
    paths="$("$root/resources/guest/images.sh" --print-paths)" || {
        echo "$1: guest images not built: run resources/guest/images.sh --ensure" >&2
        exit 2
    }
    eval "$paths"
}

# Guests need hardware KVM: without kvm_intel or kvm_amd (kvm_pvm cannot run a stock guest
# kernel), ember-sandbox must use its QEMU VM. An EMBER_SANDBOX set by the caller wins.
choose_sandbox_mode() {
    if [[ -z "${EMBER_SANDBOX:-}" ]]; then
        if [[ -d /sys/module/kvm_intel || -d /sys/module/kvm_amd ]]; then
            export EMBER_SANDBOX=auto
        else
            export EMBER_SANDBOX=qemu
        fi
    fi
}

# sibling_binary EMBER NAME: the program NAME beside the ember binary EMBER (an install) or in
# its build tree's vmm/snapshot/ (ember-uffd-handler, ember-snapshot); nothing when neither is.
sibling_binary() {
    local candidate
    for candidate in "$(dirname "$1")/$2" "$(dirname "$1")/vmm/snapshot/$2"; do
        [[ -x $candidate ]] && { echo "$candidate"; return 0; }
    done
    return 0
}

# run_sandbox_test TEST MARKER ARGS...: `ember-sandbox run ARGS...`, prints its output, and passes
# only when the sandbox exits 0 and its output has a line that is exactly MARKER. A crash of the
# outer VM's own kernel (TCG failing under nested load; Ember runs as a process in it) reruns the
# test once: the marker then comes only from a complete rerun. A guest's fault is never retried,
# but a "triple fault" the outer VM traces at a RIP where the guest has no code is not the guest's
# (see outer_triple_fault) and reruns the test once too.
run_sandbox_test() {
    local name=$1 marker=$2 out rc
    shift 2
    out="$(mktemp "/tmp/ember-$name.XXXXXX")"
    # Under set -e a failing sandbox must not end the script before its output is shown.
    sandbox_run_rerun "$name" "$out" --retry-outer-crash 1 "$@" && rc=0 || rc=$?
    cat "$out"
    if [[ $rc -ne 0 ]] || ! grep -qx "$marker" "$out"; then
        rm -f "$out"
        echo "$name: FAIL (sandbox exit $rc)" >&2
        exit 1
    fi
    rm -f "$out"
    echo "$name: PASS"
}

# sandbox_run_rerun NAME OUT ARGS...: `ember-sandbox run ARGS...` with its stdout in OUT and its
# stderr shown; runs it again once when the first run's guest was reset at a RIP where it has no
# code (outer_triple_fault). Returns the exit status of the run whose output OUT holds.
sandbox_run_rerun() {
    local name=$1 out=$2 try rc
    shift 2
    for try in 1 2; do
        "$root/resources/sandbox/ember-sandbox" run "$@" >"$out" 2>"$out.err" && rc=0 || rc=$?
        cat "$out.err" >&2
        if ((try == 1)) && outer_triple_fault "$out.err"; then
            echo "$name: the guest's vCPU was reset at a RIP outside any guest code (above):" \
                "TCG's nested SVM mixed the outer VM's state into the guest's; running again" >&2
            continue
        fi
        break
    done
    rm -f "$out.err"
    return $rc
}

# outer_triple_fault STDERR: true when every nested triple fault that ember-sandbox traced in
# STDERR (its standard error) ("kvm_exit: vcpu N reason shutdown rip 0x...") stands at or above 0xffffffffc0000000.
# The test guests' kernel (tinyconfig plus resources/guest/kernel.fragment) has no modules, no
# BPF JIT and no KASLR, so none of its code is there; the outer VM's kvm-amd module is. Seen once in
# api_hostile_requests (rip 0xffffffffc035320c while the APIC timer vector was being delivered)
# under full load of both outer CPUs, and once in boot_vmlinux_pvh_2vcpu (rip 0xffffffffc039d20c:
# the same offset in a module loaded elsewhere, the same vector).
outer_triple_fault() {
    local rips
    rips="$(sed -n 's/.*kvm_exit: vcpu [0-9]* reason shutdown rip 0x\([0-9a-f]*\).*/\1/p' "$1")"
    [[ -n $rips ]] || return 1
    while read -r rip; do
        ((${#rip} == 16)) && [[ $rip > ffffffffbfffffff ]] || return 1
    done <<<"$rips"
}
