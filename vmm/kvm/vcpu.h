// Vcpu: one KVM vCPU fd and its shared kvm_run page. Setup (CPUID, MSRs, registers, LAPIC) runs on
// the vmm thread before the vCPU thread starts; run() runs on the vCPU thread.
#pragma once

#include <linux/kvm.h>

#include <cstdint>
#include <span>
#include <vector>

#include "vmm/base/mmap_region.h"
#include "vmm/base/result.h"
#include "vmm/base/unique_fd.h"
#include "vmm/kvm/vcpu_exit.h"
#include "vmm/kvm/vm.h"

namespace ember::kvm {

class Vcpu : public RunnableVcpu {
public:
    static Result<Vcpu> create(const Vm& vm, uint32_t index);

    Vcpu(Vcpu&&) = default;
    Vcpu& operator=(Vcpu&&) = default;

    Result<void> set_cpuid(std::span<const kvm_cpuid_entry2> entries);
    Result<void> set_msrs(std::span<const kvm_msr_entry> entries);
    Result<kvm_regs> regs() const;
    Result<void> set_regs(const kvm_regs& regs);
    Result<kvm_sregs> sregs() const;
    Result<void> set_sregs(const kvm_sregs& sregs);
    Result<void> set_fpu(const kvm_fpu& fpu);
    Result<kvm_lapic_state> lapic() const;
    Result<void> set_lapic(const kvm_lapic_state& lapic);
    Result<kvm_mp_state> mp_state() const;
    // XCR0 through KVM_SET_XCRS (KVM_GET_XCRS for reading it back).
    Result<uint64_t> xcr0() const;
    Result<void> set_xcr0(uint64_t value);

    Result<VcpuExit> run() override;
    void set_immediate_exit(bool value) override;
    std::string describe_state() const override;

    uint32_t index() const { return index_; }
    int fd() const { return fd_.get(); }

private:
    Vcpu(UniqueFd fd, MmapRegion run, uint32_t index)
        : fd_(std::move(fd)), run_(std::move(run)), index_(index) {}
    kvm_run* run_page() const { return reinterpret_cast<kvm_run*>(run_.data()); }

    UniqueFd fd_;
    MmapRegion run_;  // struct kvm_run, shared with KVM.
    uint32_t index_ = 0;
};

}  // namespace ember::kvm
