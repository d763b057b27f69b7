#include "vmm/kvm/vcpu_state.h"

#include <fmt/core.h>
#include <sys/ioctl.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>

#include "vmm/kvm/ioctl_state.h"
#include "vmm/kvm/kvm_abi.h"

namespace ember::kvm {
namespace {

using abi::kGetCpuid2;
using abi::kGetMsrIndexList;
using abi::kGetXsave;
using abi::kGetXsave2;
using abi::kSetXsave;
using abi::XsaveRegion;

constexpr uint32_t kMsrIa32Tsc = 0x10;
constexpr uint32_t kMsrIa32TscDeadline = 0x6e0;
constexpr size_t kMaxCpuidEntries = 256;  // KVM_MAX_CPUID_ENTRIES

Result<std::vector<kvm_cpuid_entry2>> get_cpuid(int fd) {
    for (size_t capacity = 64; capacity <= kMaxCpuidEntries; capacity *= 2) {
        abi::ArrayBuffer<kvm_cpuid_entry2> buffer(capacity);
        if (::ioctl(fd, kGetCpuid2, buffer.data()) == 0) return buffer.entries();
        if (errno != E2BIG) return Error::from_errno("KVM_GET_CPUID2");
    }
    return Error::from_errno(E2BIG, "KVM_GET_CPUID2");
}

// The TSC deadline to write back. A zero deadline with a running timer would leave the guest
// waiting for an interrupt that never comes: arm it at the saved TSC instead, as Firecracker does.
std::optional<kvm_msr_entry> tsc_deadline(std::span<const kvm_msr_entry> msrs) {
    std::optional<kvm_msr_entry> deadline;
    std::optional<uint64_t> tsc;
    for (const kvm_msr_entry& e : msrs) {
        if (e.index == kMsrIa32TscDeadline) deadline = e;
        if (e.index == kMsrIa32Tsc) tsc = e.data;
    }
    if (deadline && deadline->data == 0 && tsc) deadline->data = *tsc;
    return deadline;
}

Result<void> set_msrs(int fd, std::span<const kvm_msr_entry> msrs) {
    abi::ArrayBuffer<kvm_msr_entry> buffer{msrs};
    int written = ::ioctl(fd, abi::kSetMsrs, buffer.data());
    if (written < 0) return Error::from_errno("KVM_SET_MSRS");
    if (static_cast<size_t>(written) != msrs.size()) {
        return Error::invalid(
            "KVM_SET_MSRS",
            fmt::format("KVM refused MSR {:#x}", msrs[static_cast<size_t>(written)].index));
    }
    return ok();
}

}  // namespace

// KVM_GET_MSRS reads entries in order and stops at the first it refuses; skip that one and go on.
Result<std::vector<kvm_msr_entry>> get_msrs(int vcpu_fd, std::span<const uint32_t> indices) {
    std::vector<kvm_msr_entry> out;
    size_t next = 0;
    while (next < indices.size()) {
        std::vector<kvm_msr_entry> wanted(indices.size() - next);
        for (size_t i = 0; i < wanted.size(); ++i) wanted[i].index = indices[next + i];
        abi::ArrayBuffer<kvm_msr_entry> buffer{std::span<const kvm_msr_entry>(wanted)};
        int read = ::ioctl(vcpu_fd, abi::kGetMsrs, buffer.data());
        if (read < 0) return Error::from_errno("KVM_GET_MSRS");
        std::vector<kvm_msr_entry> got = buffer.entries();
        out.insert(out.end(), got.begin(), got.begin() + read);
        next += static_cast<size_t>(read) + 1;
    }
    return out;
}

Result<std::vector<uint32_t>> msr_index_list(int kvm_fd) {
    // The first call with room for none reports the count through E2BIG.
    std::vector<uint32_t> buffer(1, 0);
    if (::ioctl(kvm_fd, kGetMsrIndexList, buffer.data()) < 0 && errno != E2BIG) {
        return Error::from_errno("KVM_GET_MSR_INDEX_LIST");
    }
    uint32_t count = buffer[0];
    buffer.assign(count + 1, 0);
    buffer[0] = count;
    if (::ioctl(kvm_fd, kGetMsrIndexList, buffer.data()) < 0) {
        return Error::from_errno("KVM_GET_MSR_INDEX_LIST");
    }
    return std::vector<uint32_t>(buffer.begin() + 1, buffer.begin() + 1 + buffer[0]);
}

size_t xsave_size(int vm_fd) {
    int size = ::ioctl(vm_fd, KVM_CHECK_EXTENSION, KVM_CAP_XSAVE2);
    return size > static_cast<int>(sizeof(XsaveRegion)) ? static_cast<size_t>(size)
                                                        : sizeof(XsaveRegion);
}

Result<VcpuState> capture_vcpu_state(int vcpu_fd, uint32_t index,
                                     std::span<const uint32_t> msr_indices, size_t xsave_bytes) {
    VcpuState s;
    s.index = index;
    // MP state first: reading it makes KVM process pending APIC events into the state below.
    s.mp_state = EMBER_TRY(ioctl_get<kvm_mp_state>(vcpu_fd, KVM_GET_MP_STATE, "KVM_GET_MP_STATE"));
    s.regs = EMBER_TRY(ioctl_get<kvm_regs>(vcpu_fd, KVM_GET_REGS, "KVM_GET_REGS"));
    s.sregs = EMBER_TRY(ioctl_get<kvm_sregs>(vcpu_fd, KVM_GET_SREGS, "KVM_GET_SREGS"));
    s.fpu = EMBER_TRY(ioctl_get<kvm_fpu>(vcpu_fd, KVM_GET_FPU, "KVM_GET_FPU"));

    xsave_bytes = std::max(xsave_bytes, sizeof(XsaveRegion));
    std::vector<uint32_t> xsave((xsave_bytes + 3) / 4, 0);
    unsigned long get_xsave = xsave_bytes > sizeof(XsaveRegion) ? kGetXsave2 : kGetXsave;
    if (::ioctl(vcpu_fd, get_xsave, xsave.data()) < 0) return Error::from_errno("KVM_GET_XSAVE");
    s.xsave.resize(xsave_bytes);
    std::memcpy(s.xsave.data(), xsave.data(), xsave_bytes);

    s.xcrs = EMBER_TRY(ioctl_get<kvm_xcrs>(vcpu_fd, KVM_GET_XCRS, "KVM_GET_XCRS"));
    s.debugregs =
        EMBER_TRY(ioctl_get<kvm_debugregs>(vcpu_fd, KVM_GET_DEBUGREGS, "KVM_GET_DEBUGREGS"));
    s.lapic = EMBER_TRY(ioctl_get<kvm_lapic_state>(vcpu_fd, KVM_GET_LAPIC, "KVM_GET_LAPIC"));
    int khz = ::ioctl(vcpu_fd, KVM_GET_TSC_KHZ, 0);
    s.tsc_khz = khz > 0 ? static_cast<uint32_t>(khz) : 0;
    s.cpuid = EMBER_TRY(get_cpuid(vcpu_fd));
    s.msrs = EMBER_TRY(get_msrs(vcpu_fd, msr_indices));
    s.events =
        EMBER_TRY(ioctl_get<kvm_vcpu_events>(vcpu_fd, KVM_GET_VCPU_EVENTS, "KVM_GET_VCPU_EVENTS"));
    return s;
}

Result<void> restore_vcpu_state(int vcpu_fd, const VcpuState& s) {
    if (s.xsave.size() < sizeof(XsaveRegion)) {
        return Error::invalid("restore vCPU state", "xsave area smaller than 4096 bytes");
    }
    if (s.tsc_khz != 0) {
        int host_khz = ::ioctl(vcpu_fd, KVM_GET_TSC_KHZ, 0);
        if (host_khz != static_cast<int>(s.tsc_khz) &&
            ::ioctl(vcpu_fd, KVM_SET_TSC_KHZ, static_cast<unsigned long>(s.tsc_khz)) < 0) {
            return Error::from_errno("KVM_SET_TSC_KHZ",
                                     fmt::format("{} kHz (host {} kHz)", s.tsc_khz, host_khz));
        }
    }
    abi::ArrayBuffer<kvm_cpuid_entry2> cpuid{std::span<const kvm_cpuid_entry2>(s.cpuid)};
    if (::ioctl(vcpu_fd, abi::kSetCpuid2, cpuid.data()) < 0) {
        return Error::from_errno("KVM_SET_CPUID2");
    }
    // All but the TSC deadline, which must wait for the LAPIC (below).
    std::vector<kvm_msr_entry> msrs = s.msrs;
    std::erase_if(msrs, [](const kvm_msr_entry& e) { return e.index == kMsrIa32TscDeadline; });
    EMBER_TRY(set_msrs(vcpu_fd, msrs));
    EMBER_TRY(ioctl_set(vcpu_fd, KVM_SET_REGS, s.regs, "KVM_SET_REGS"));
    EMBER_TRY(ioctl_set(vcpu_fd, KVM_SET_SREGS, s.sregs, "KVM_SET_SREGS"));
    EMBER_TRY(ioctl_set(vcpu_fd, KVM_SET_FPU, s.fpu, "KVM_SET_FPU"));
    // KVM_SET_XSAVE reads as many bytes as KVM_CAP_XSAVE2 says; the buffer is at least that big
    // when the snapshot came from the same host configuration.
    std::vector<uint32_t> xsave((s.xsave.size() + 3) / 4, 0);
    std::memcpy(xsave.data(), s.xsave.data(), s.xsave.size());
    if (::ioctl(vcpu_fd, kSetXsave, xsave.data()) < 0) return Error::from_errno("KVM_SET_XSAVE");
    EMBER_TRY(ioctl_set(vcpu_fd, KVM_SET_XCRS, s.xcrs, "KVM_SET_XCRS"));
    EMBER_TRY(ioctl_set(vcpu_fd, KVM_SET_DEBUGREGS, s.debugregs, "KVM_SET_DEBUGREGS"));
    EMBER_TRY(ioctl_set(vcpu_fd, KVM_SET_LAPIC, s.lapic, "KVM_SET_LAPIC"));
    // KVM ignores a TSC deadline written while the LAPIC timer is not in TSC-deadline mode, as on
    // this fresh vCPU before KVM_SET_LAPIC: written earlier, an idle vCPU waiting on its timer
    // would never wake.
    if (std::optional<kvm_msr_entry> deadline = tsc_deadline(s.msrs)) {
        EMBER_TRY(set_msrs(vcpu_fd, {&*deadline, 1}));
    }
    EMBER_TRY(ioctl_set(vcpu_fd, KVM_SET_MP_STATE, s.mp_state, "KVM_SET_MP_STATE"));
    EMBER_TRY(ioctl_set(vcpu_fd, KVM_SET_VCPU_EVENTS, s.events, "KVM_SET_VCPU_EVENTS"));
    return ok();
}

}  // namespace ember::kvm
