// VcpuState: everything KVM holds for one vCPU that a snapshot must carry, and the ioctls that
// read it from and write it back to a vCPU fd. Free functions on the fd, so that vmm/kvm/vcpu.cc
// stays the run loop. Thread: the vmm thread, with the vCPU paused (not inside KVM_RUN).
#pragma once

#include <linux/kvm.h>

#include <cstdint>
#include <span>
#include <vector>

#include "vmm/base/result.h"

namespace ember::kvm {

struct VcpuState {
    uint32_t index = 0;
    kvm_regs regs{};
    kvm_sregs sregs{};
    kvm_fpu fpu{};
    // struct kvm_xsave: 4 KiB, or KVM_CHECK_EXTENSION(KVM_CAP_XSAVE2) bytes when larger.
    std::vector<uint8_t> xsave;
    kvm_xcrs xcrs{};
    std::vector<kvm_msr_entry> msrs;
    kvm_lapic_state lapic{};
    kvm_mp_state mp_state{};
    kvm_vcpu_events events{};
    kvm_debugregs debugregs{};
    std::vector<kvm_cpuid_entry2> cpuid;
    uint32_t tsc_khz = 0;  // 0: unknown, restore keeps the host's frequency.
};

// The MSRs to save: KVM_GET_MSR_INDEX_LIST on the /dev/kvm fd.
Result<std::vector<uint32_t>> msr_index_list(int kvm_fd);
// KVM_GET_MSRS of `indices`; those KVM refuses to read are left out.
Result<std::vector<kvm_msr_entry>> get_msrs(int vcpu_fd, std::span<const uint32_t> indices);
// The xsave buffer size for this VM: KVM_CAP_XSAVE2 on the VM fd, at least 4096.
size_t xsave_size(int vm_fd);

// Reads every piece of state. MSRs that KVM refuses to read are left out, not fatal: the index
// list names MSRs the host knows, not all of which this guest's CPUID exposes.
// Precondition: no I/O exit is pending completion. KVM finishes a KVM_EXIT_IO/MMIO (advancing RIP,
// storing an IN's data) only on the next KVM_RUN, so a vCPU stopped right after such an exit must
// first re-enter once with immediate_exit set (KVM_RUN returns EINTR without running the guest).
Result<VcpuState> capture_vcpu_state(int vcpu_fd, uint32_t index,
                                     std::span<const uint32_t> msr_indices, size_t xsave_bytes);
// Writes it back in the order KVM needs: CPUID before MSRs and registers, LAPIC before MP state,
// vCPU events last (they may carry a pending exception that depends on everything else).
Result<void> restore_vcpu_state(int vcpu_fd, const VcpuState& state);

}  // namespace ember::kvm
