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
