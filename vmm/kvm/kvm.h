// Kvm: the open /dev/kvm system fd. Checks the API version and every capability Ember relies on
// once, at open, so that a host that cannot run a VM fails with one line saying what to do.
// Thread: the vmm thread, during VM construction.
#pragma once

#include <linux/kvm.h>

#include <cstddef>
#include <string>
#include <vector>

#include "vmm/base/result.h"
#include "vmm/base/unique_fd.h"

namespace ember::kvm {

class Kvm {
public:
    static constexpr const char* kDefaultPath = "/dev/kvm";

    // Opens `path` (O_RDWR | O_CLOEXEC) and checks version 12 and the required capabilities.
    static Result<Kvm> open(const std::string& path = kDefaultPath);

    // KVM_CHECK_EXTENSION on the system fd: 0 when absent, else a capability-specific value.
    int check_extension(unsigned capability) const;
    // KVM_GET_SUPPORTED_CPUID: what the host and KVM can offer a guest.
    Result<std::vector<kvm_cpuid_entry2>> supported_cpuid() const;
    // The size of the kvm_run mapping of each vCPU fd.
    size_t vcpu_mmap_size() const { return vcpu_mmap_size_; }

    int fd() const { return fd_.get(); }

private:
    Kvm(UniqueFd fd, size_t vcpu_mmap_size) : fd_(std::move(fd)), vcpu_mmap_size_(vcpu_mmap_size) {}

    UniqueFd fd_;
    size_t vcpu_mmap_size_ = 0;
};

}  // namespace ember::kvm
