// The KVM part of a snapshot for a whole machine: every vCPU's state and the VM's, read into and
// written back from a MachineState, through vmm/kvm/{vcpu,vm}_state.cc.
// Thread: the vmm thread, with every vCPU paused and no I/O exit pending completion (see
// kvm::capture_vcpu_state).
#pragma once

#include <span>

#include "vmm/base/result.h"
#include "vmm/snapshot/machine_state.h"

namespace ember::snapshot {

// Fills state.vm and state.vcpus (vCPU i from vcpu_fds[i]) and sets machine.vcpu_count.
Result<void> capture_kvm_state(MachineState& state, int kvm_fd, int vm_fd,
                               std::span<const int> vcpu_fds);
// The same with the MSR list and xsave size (kvm::msr_index_list, kvm::xsave_size) read earlier,
// so that a seccomp-confined thread needs neither KVM_GET_MSR_INDEX_LIST nor KVM_CHECK_EXTENSION.
Result<void> capture_kvm_state(MachineState& state, std::span<const uint32_t> msr_indices,
                               size_t xsave_bytes, int vm_fd, std::span<const int> vcpu_fds);
// The VM's state first (PIT, clock as `clock` says, irqchips), then each vCPU's. The VM must
// already have its irqchip and PIT, and vCPU i must exist for every saved vCPU.
Result<void> restore_kvm_state(const MachineState& state, int vm_fd, std::span<const int> vcpu_fds,
                               kvm::ClockRestore clock = kvm::ClockRestore::kAsSaved);

}  // namespace ember::snapshot
