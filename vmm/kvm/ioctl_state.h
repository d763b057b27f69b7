// ioctl_get / ioctl_set: the fixed-size KVM state ioctls (KVM_GET_REGS, KVM_SET_LAPIC, ...) as
// Results, shared by the vCPU setup (vcpu.cc) and snapshot capture/restore (vcpu_state.cc).
// Only for structs without a flexible array: those need kvm_abi.h's buffers and numbers.
#pragma once

#include <sys/ioctl.h>

#include "vmm/base/result.h"

namespace ember::kvm {

template <typename T>
Result<T> ioctl_get(int fd, unsigned long request, const char* name) {
    T value{};
    if (::ioctl(fd, request, &value) < 0) return Error::from_errno(name);
    return value;
}

template <typename T>
Result<void> ioctl_set(int fd, unsigned long request, const T& value, const char* name) {
    if (::ioctl(fd, request, &value) < 0) return Error::from_errno(name);
    return ok();
}

}  // namespace ember::kvm
