#include "vmm/kvm/kvm.h"

#include "vmm/kvm/kvm_abi.h"

#include <fcntl.h>
#include <sys/ioctl.h>

#include <cerrno>

namespace ember::kvm {
namespace {

constexpr int kKvmApiVersion = 12;
// Far more than any host reports (about 60 leaves today); KVM says E2BIG when it is too few.
constexpr uint32_t kMaxCpuidEntries = 256;

struct Capability {
    unsigned id;
    const char* name;
};

// Firecracker's list (arch/x86_64/kvm.rs) plus IMMEDIATE_EXIT, which the vCPU kick relies on.
constexpr Capability kRequiredCapabilities[] = {
    {KVM_CAP_IRQCHIP, "KVM_CAP_IRQCHIP"},
    {KVM_CAP_IOEVENTFD, "KVM_CAP_IOEVENTFD"},
    {KVM_CAP_IRQFD, "KVM_CAP_IRQFD"},
    {KVM_CAP_USER_MEMORY, "KVM_CAP_USER_MEMORY"},
    {KVM_CAP_SET_TSS_ADDR, "KVM_CAP_SET_TSS_ADDR"},
    {KVM_CAP_PIT2, "KVM_CAP_PIT2"},
    {KVM_CAP_PIT_STATE2, "KVM_CAP_PIT_STATE2"},
    {KVM_CAP_ADJUST_CLOCK, "KVM_CAP_ADJUST_CLOCK"},
    {KVM_CAP_DEBUGREGS, "KVM_CAP_DEBUGREGS"},
    {KVM_CAP_MP_STATE, "KVM_CAP_MP_STATE"},
    {KVM_CAP_VCPU_EVENTS, "KVM_CAP_VCPU_EVENTS"},
    {KVM_CAP_XCRS, "KVM_CAP_XCRS"},
    {KVM_CAP_XSAVE, "KVM_CAP_XSAVE"},
    {KVM_CAP_EXT_CPUID, "KVM_CAP_EXT_CPUID"},
    {KVM_CAP_IMMEDIATE_EXIT, "KVM_CAP_IMMEDIATE_EXIT"},
};

}  // namespace

Result<Kvm> Kvm::open(const std::string& path) {
    int raw = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
    if (raw < 0) {
        int err = errno;
        if (err == ENOENT) {
            return Error::from_errno(err, "open KVM device",
                                     path +
                                         " does not exist: load the kvm_intel or kvm_amd module, "
                                         "or enable virtualization in the firmware");
        }
        if (err == EACCES || err == EPERM) {
            return Error::from_errno(err, "open KVM device",
                                     path +
                                         " is not accessible: add the user to the kvm group or "
                                         "grant it read/write access (setfacl -m u:$USER:rw " +
                                         path + ")");
        }
        return Error::from_errno(err, "open KVM device", path);
    }
    UniqueFd fd(raw);

    int version = ::ioctl(fd.get(), KVM_GET_API_VERSION, 0);
    if (version != kKvmApiVersion) {
        return Error::invalid(
            "KVM_GET_API_VERSION",
            "unsupported KVM API version " + std::to_string(version) + " (Ember needs 12)");
    }
    for (const Capability& cap : kRequiredCapabilities) {
        if (::ioctl(fd.get(), KVM_CHECK_EXTENSION, cap.id) <= 0) {
            return Error(std::make_error_code(std::errc::not_supported), "KVM capability check",
                         std::string("the host kernel lacks ") + cap.name +
                             ": run Ember on Linux >= 5.10 with KVM");
        }
    }
    int mmap_size = ::ioctl(fd.get(), KVM_GET_VCPU_MMAP_SIZE, 0);
    if (mmap_size <= 0) return Error::from_errno("KVM_GET_VCPU_MMAP_SIZE");
    return Kvm(std::move(fd), static_cast<size_t>(mmap_size));
}

int Kvm::check_extension(unsigned capability) const {
    int r = ::ioctl(fd_.get(), KVM_CHECK_EXTENSION, capability);
    return r < 0 ? 0 : r;
}

Result<std::vector<kvm_cpuid_entry2>> Kvm::supported_cpuid() const {
    abi::ArrayBuffer<kvm_cpuid_entry2> cpuid(kMaxCpuidEntries);
    if (::ioctl(fd_.get(), abi::kGetSupportedCpuid, cpuid.data()) < 0) {
        return Error::from_errno("KVM_GET_SUPPORTED_CPUID");
    }
    return cpuid.entries();
}

}  // namespace ember::kvm
