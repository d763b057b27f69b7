#include "vmm/snapshot/kvm_snapshot.h"

#include <fmt/core.h>

#include "vmm/kvm/vcpu_state.h"
#include "vmm/kvm/vm_state.h"

namespace ember::snapshot {

Result<void> capture_kvm_state(MachineState& state, int kvm_fd, int vm_fd,
                               std::span<const int> vcpu_fds) {
    std::vector<uint32_t> msrs = EMBER_TRY(kvm::msr_index_list(kvm_fd));
    return capture_kvm_state(state, msrs, kvm::xsave_size(vm_fd), vm_fd, vcpu_fds);
}

Result<void> capture_kvm_state(MachineState& state, std::span<const uint32_t> msrs,
                               size_t xsave_bytes, int vm_fd, std::span<const int> vcpu_fds) {
    state.vcpus.clear();
    for (size_t i = 0; i < vcpu_fds.size(); ++i) {
        state.vcpus.push_back(EMBER_TRY(
            kvm::capture_vcpu_state(vcpu_fds[i], static_cast<uint32_t>(i), msrs, xsave_bytes)));
    }
    state.machine.vcpu_count = static_cast<uint32_t>(vcpu_fds.size());
    state.vm = EMBER_TRY(kvm::capture_vm_state(vm_fd));
    return ok();
}

Result<void> restore_kvm_state(const MachineState& state, int vm_fd, std::span<const int> vcpu_fds,
                               kvm::ClockRestore clock) {
    if (vcpu_fds.size() != state.vcpus.size()) {
        return Error::invalid(
            "restore KVM state",
            fmt::format("{} vCPUs for {} saved", vcpu_fds.size(), state.vcpus.size()));
    }
    EMBER_TRY(kvm::restore_vm_state(vm_fd, state.vm, clock));
    for (size_t i = 0; i < vcpu_fds.size(); ++i) {
        Result<void> restored = kvm::restore_vcpu_state(vcpu_fds[i], state.vcpus[i]);
        if (!restored) {
            const Error& e = restored.error();
            return Error(e.code(), e.context(),
                         fmt::format("vCPU {}{}{}", i, e.detail().empty() ? "" : ": ", e.detail()));
        }
    }
    return ok();
}

}  // namespace ember::snapshot
