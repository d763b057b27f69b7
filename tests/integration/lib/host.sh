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

# run_sandbox_test TEST MARKER ARGS...: `ember-sandbox run ARGS...`, prints its output, and passes
# only when the sandbox exits 0 and its output has a line that is exactly MARKER. A crash of the
# outer VM's own kernel (TCG failing under nested load; Ember runs as a process in it) reruns the
# test once: the marker then comes only from a complete rerun. A guest's fault is never retried.
run_sandbox_test() {
    local name=$1 marker=$2 out rc
    shift 2
    out="$(mktemp "/tmp/ember-$name.XXXXXX")"
    # Under set -e a failing sandbox must not end the script before its output is shown.
    "$root/resources/sandbox/ember-sandbox" run --retry-outer-crash 1 "$@" >"$out" && rc=0 || rc=$?
    cat "$out"
    if [[ $rc -ne 0 ]] || ! grep -qx "$marker" "$out"; then
        rm -f "$out"
        echo "$name: FAIL (sandbox exit $rc)" >&2
        exit 1
    fi
    rm -f "$out"
    echo "$name: PASS"
}
