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
# only when the sandbox exits 0 and its output has a line that is exactly MARKER. A crash, freeze
# or soft lockup of the outer VM's own kernel (TCG failing under nested load; Ember runs as a
# process in it) reruns the test once: the marker then comes only from a complete rerun. A run
# whose guest the outer VM traced a triple fault for (see nested_triple_fault) runs again, up to
# twice: a fault of Ember's making happens again in every rerun and fails the test.
run_sandbox_test() {
    local name=$1 marker=$2 out rc
    shift 2
    out="$(mktemp "/tmp/ember-$name.XXXXXX")"
    # Under set -e a failing sandbox must not end the script before its output is shown.
    sandbox_run_rerun "$name" "$out" "$@" && rc=0 || rc=$?
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
# stderr shown; runs it again, up to twice, while the outer VM traces a triple fault of the run's
# guest (nested_triple_fault): once was not enough on a loaded machine, where the rerun's outer
# kernel crashed and its retry met another such fault. A fault of Ember's making happens in all
# three. Every run also goes again once when the outer VM's own kernel crashes or the VM freezes
# (--retry-outer-crash 1; not Ember's doing): the failed run's output stays before the rerun's, so
# where the command prints a RUN-IN-VM-START line first, OUT keeps only what follows the last one.
# Returns the exit status of the run whose output OUT holds.
sandbox_run_rerun() {
    local name=$1 out=$2 try rc
    shift 2
    for try in 1 2 3; do
        "$root/resources/sandbox/ember-sandbox" run --retry-outer-crash 1 "$@" >"$out" 2>"$out.err" &&
            rc=0 || rc=$?
        cat "$out.err" >&2
        if ((try < 3)) && nested_triple_fault "$out.err"; then
            echo "$name: the outer VM traced a triple fault of the guest (above); TCG's nested" \
                "SVM does this to QEMU's guests too: running again (run $try of at most 3)" >&2
            continue
        fi
        break
    done
    rm -f "$out.err"
    if grep -qx RUN-IN-VM-START "$out"; then
        awk '/^RUN-IN-VM-START$/ {start = NR} {line[NR] = $0}
            END {for (i = start + 1; i <= NR; i++) print line[i]}' "$out" >"$out.last"
        mv "$out.last" "$out"
    fi
    return $rc
}

# nested_triple_fault STDERR: true when ember-sandbox traced a nested triple fault in STDERR (its
# standard error: "kvm_exit: vcpu N reason shutdown rip 0x..."). Under TCG's emulation of nested
# SVM these come and go with load, while an interrupt or exception is being delivered:
# - at RIPs where the test guests' kernel has no code (0xffffffffc0000000 and up: the outer VM's
#   kvm-amd module), in api_hostile_requests and boot_vmlinux_pvh_2vcpu, vector 0xec (APIC timer);
# - in native_safe_halt (vector 0xec) and lapic_next_deadline (a #PF on instruction fetch), in
#   snapshot_restore's clone-a and, in one fleet_bench run, in guests of QEMU itself.
# A guest triple fault Ember causes (a bad restored IDT, say) happens again when rerun. Only
# Ember's vCPU threads (fc_vcpu N) count: QEMU's microvm guests in the benchmarks reboot by triple
# fault on purpose (reboot=t), and each such reboot made a round run three times.
nested_triple_fault() {
    grep -Eq 'fc_vcpu [0-9]+-[0-9]+ .*kvm_exit: vcpu [0-9]+ reason shutdown rip 0x' "$1"
}
