// Machine: everything one running VM is made of, in destruction-safe order: the KVM fds, guest
// memory, the devices and buses, the vCPUs and their threads (declared last, so they stop first).
// Built by Builder, owned by Vmm. Thread: the vmm thread.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "vmm/base/event_fd.h"
#include "vmm/base/terminal.h"
#include "vmm/base/unique_fd.h"
#include "vmm/core/device_manager.h"
#include "vmm/core/vcpu_runner.h"
#include "vmm/kvm/kvm.h"
#include "vmm/kvm/vcpu.h"
#include "vmm/kvm/vm.h"
#include "vmm/memory/guest_memory.h"

namespace ember {

struct Machine {
    Machine(kvm::Kvm kvm_in, kvm::Vm vm_in, EventFd reset_in, EventFd vcpu_exit_in)
        : kvm(std::move(kvm_in)),
          vm(std::move(vm_in)),
          reset_evt(std::move(reset_in)),
          vcpu_exit_evt(std::move(vcpu_exit_in)),
          devices(vm) {}
    ~Machine() { stop_vcpus(); }

    // Thread: vmm.
    // Each vCPU thread installs `seccomp` (may be null) on itself before its first KVM_RUN.
    // With `paused`, they park before their first KVM_RUN until resume_vcpus().
    Result<void> start_vcpus(std::chrono::steady_clock::time_point launch,
                             const BpfProgram* seccomp = nullptr, bool paused = false);
    Result<void> pause_vcpus();
    Result<void> resume_vcpus();
    void stop_vcpus();

    // The console's TTY in raw mode while the VM exists (declared first: restored last).
    TerminalRawMode console_mode;
    kvm::Kvm kvm;
    kvm::Vm vm;
    // Restored with the Uffd backend: the userfaultfd and the connection to the page-fault
    // handler, which takes its closing as the end of the VM; both live as long as the memory.
    UniqueFd uffd;
    UniqueFd uffd_handler;
    GuestMemory memory;
    // Memory slots log dirty pages (machine-config track_dirty_pages): diff snapshots use them.
    bool dirty_log = false;
    EventFd reset_evt;      // Written by the i8042 on a guest reset.
    EventFd vcpu_exit_evt;  // Written by a vCPU thread that ends by itself.
    DeviceManager devices;
    std::string cmdline;
    std::vector<std::unique_ptr<kvm::Vcpu>> vcpus;
    std::vector<std::unique_ptr<VcpuRunner>> runners;
    // What a snapshot saves of each vCPU, read while building: the vmm thread's seccomp filter
    // allows neither KVM_GET_MSR_INDEX_LIST nor KVM_CHECK_EXTENSION.
    std::vector<uint32_t> msr_indices;
    size_t xsave_bytes = 0;
    // kvmclock as it was when the vCPUs were paused; set again on resume.
    std::optional<kvm_clock_data> paused_clock;
};

}  // namespace ember
