#include "vmm/kvm/vcpu.h"

#include "vmm/kvm/ioctl_state.h"
#include "vmm/kvm/kvm_abi.h"

#include <sys/ioctl.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>

#include <fmt/core.h>

namespace ember::kvm {
namespace {}  // namespace

Result<Vcpu> Vcpu::create(const Vm& vm, uint32_t index) {
    int raw = ::ioctl(vm.fd(), KVM_CREATE_VCPU, static_cast<unsigned long>(index));
    if (raw < 0) return Error::from_errno("KVM_CREATE_VCPU");
    UniqueFd fd(raw);
    MmapRegion run = EMBER_TRY(
        MmapRegion::of_file(fd.get(), vm.vcpu_mmap_size(), 0, PROT_READ | PROT_WRITE, MAP_SHARED));
    return Vcpu(std::move(fd), std::move(run), index);
}

Result<void> Vcpu::set_cpuid(std::span<const kvm_cpuid_entry2> entries) {
    abi::ArrayBuffer<kvm_cpuid_entry2> cpuid(entries);
    if (::ioctl(fd_.get(), abi::kSetCpuid2, cpuid.data()) < 0)
        return Error::from_errno("KVM_SET_CPUID2");
    return ok();
}

Result<void> Vcpu::set_msrs(std::span<const kvm_msr_entry> entries) {
    abi::ArrayBuffer<kvm_msr_entry> msrs(entries);
    int written = ::ioctl(fd_.get(), abi::kSetMsrs, msrs.data());
    if (written < 0) return Error::from_errno("KVM_SET_MSRS");
    // KVM stops at the first MSR it refuses and returns how many it set.
    if (static_cast<size_t>(written) != entries.size()) {
        return Error::invalid(
            "KVM_SET_MSRS",
            fmt::format("KVM refused MSR {:#x}", entries[static_cast<size_t>(written)].index));
    }
    return ok();
}

Result<kvm_regs> Vcpu::regs() const {
    return ioctl_get<kvm_regs>(fd_.get(), KVM_GET_REGS, "KVM_GET_REGS");
}
Result<void> Vcpu::set_regs(const kvm_regs& regs) {
    return ioctl_set(fd_.get(), KVM_SET_REGS, regs, "KVM_SET_REGS");
}
Result<kvm_sregs> Vcpu::sregs() const {
    return ioctl_get<kvm_sregs>(fd_.get(), KVM_GET_SREGS, "KVM_GET_SREGS");
}
Result<void> Vcpu::set_sregs(const kvm_sregs& sregs) {
    return ioctl_set(fd_.get(), KVM_SET_SREGS, sregs, "KVM_SET_SREGS");
}
Result<void> Vcpu::set_fpu(const kvm_fpu& fpu) {
    return ioctl_set(fd_.get(), KVM_SET_FPU, fpu, "KVM_SET_FPU");
}
Result<kvm_lapic_state> Vcpu::lapic() const {
    return ioctl_get<kvm_lapic_state>(fd_.get(), KVM_GET_LAPIC, "KVM_GET_LAPIC");
}
Result<void> Vcpu::set_lapic(const kvm_lapic_state& lapic) {
    return ioctl_set(fd_.get(), KVM_SET_LAPIC, lapic, "KVM_SET_LAPIC");
}
Result<kvm_mp_state> Vcpu::mp_state() const {
    return ioctl_get<kvm_mp_state>(fd_.get(), KVM_GET_MP_STATE, "KVM_GET_MP_STATE");
}

Result<uint64_t> Vcpu::xcr0() const {
    kvm_xcrs xcrs = EMBER_TRY(ioctl_get<kvm_xcrs>(fd_.get(), KVM_GET_XCRS, "KVM_GET_XCRS"));
    for (uint32_t i = 0; i < xcrs.nr_xcrs && i < KVM_MAX_XCRS; ++i) {
        if (xcrs.xcrs[i].xcr == 0) return xcrs.xcrs[i].value;
    }
    return Error::invalid("KVM_GET_XCRS", "no XCR0 in the answer");
}
Result<void> Vcpu::set_xcr0(uint64_t value) {
    kvm_xcrs xcrs{};
    xcrs.nr_xcrs = 1;
    xcrs.xcrs[0].xcr = 0;
    xcrs.xcrs[0].value = value;
    return ioctl_set(fd_.get(), KVM_SET_XCRS, xcrs, "KVM_SET_XCRS");
}

void Vcpu::set_immediate_exit(bool value) {
    __atomic_store_n(&run_page()->immediate_exit, value ? 1 : 0, __ATOMIC_SEQ_CST);
}

Result<VcpuExit> Vcpu::run() {
    VcpuExit exit;
    if (::ioctl(fd_.get(), KVM_RUN, 0) < 0) {
        if (errno == EINTR || errno == EAGAIN) {
            exit.kind = VcpuExit::Kind::kInterrupted;
            return exit;
        }
        return Error::from_errno("KVM_RUN");
    }
    kvm_run* kr = run_page();
    uint8_t* page = run_.data();
    switch (kr->exit_reason) {
        case KVM_EXIT_IO: {
            // KVM guarantees data_offset + size * count stays inside the mapping; check anyway.
            size_t len = static_cast<size_t>(kr->io.size) * kr->io.count;
            if (kr->io.data_offset > run_.size() || len > run_.size() - kr->io.data_offset) {
                return Error::invalid("KVM_EXIT_IO", "I/O data outside the kvm_run mapping");
            }
            exit.kind = kr->io.direction == KVM_EXIT_IO_OUT ? VcpuExit::Kind::kIoOut
                                                            : VcpuExit::Kind::kIoIn;
            exit.address = kr->io.port;
            exit.size = kr->io.size;
            exit.count = kr->io.count;
            exit.data = {page + kr->io.data_offset, len};
            return exit;
        }
        case KVM_EXIT_MMIO: {
            size_t len = kr->mmio.len <= sizeof(kr->mmio.data) ? kr->mmio.len : 0;
            exit.kind = kr->mmio.is_write ? VcpuExit::Kind::kMmioWrite : VcpuExit::Kind::kMmioRead;
            exit.address = kr->mmio.phys_addr;
            exit.size = static_cast<uint32_t>(len);
            exit.count = 1;
            exit.data = {kr->mmio.data, len};
            return exit;
        }
        case KVM_EXIT_HLT: exit.kind = VcpuExit::Kind::kHlt; return exit;
        case KVM_EXIT_SHUTDOWN: exit.kind = VcpuExit::Kind::kShutdown; return exit;
        case KVM_EXIT_SYSTEM_EVENT:
            exit.kind = VcpuExit::Kind::kSystemEvent;
            exit.code = kr->system_event.type;
            return exit;
        case KVM_EXIT_INTERNAL_ERROR:
            exit.kind = VcpuExit::Kind::kInternalError;
            exit.code = kr->internal.suberror;
            return exit;
        case KVM_EXIT_FAIL_ENTRY:
            exit.kind = VcpuExit::Kind::kFailEntry;
            exit.code = kr->fail_entry.hardware_entry_failure_reason;
            return exit;
        case KVM_EXIT_INTR: exit.kind = VcpuExit::Kind::kInterrupted; return exit;
        default:
            exit.kind = VcpuExit::Kind::kUnknown;
            exit.code = kr->exit_reason;
            return exit;
    }
}

std::string Vcpu::describe_state() const {
    Result<kvm_regs> r = regs();
    Result<kvm_sregs> sr = sregs();
    kvm_vcpu_events events{};
    bool have_events = ::ioctl(fd_.get(), KVM_GET_VCPU_EVENTS, &events) == 0;
    if (!r || !sr) return "registers unreadable";
    return fmt::format(
        "rip {:#x} rsp {:#x} cr0 {:#x} cr2 {:#x} cr3 {:#x} cr4 {:#x} efer {:#x}, exception {}",
        r->rip, r->rsp, sr->cr0, sr->cr2, sr->cr3, sr->cr4, sr->efer,
        !have_events ? std::string("unknown")
        : events.exception.injected || events.exception.pending
            ? fmt::format("{} (error code {:#x})", events.exception.nr, events.exception.error_code)
            : std::string("none"));
}

}  // namespace ember::kvm
