// VmRuntime: the running machine and its phase. Builds and launches the Machine at InstanceStart
// (or takes the one a snapshot load built), pauses and resumes it, hands PATCH updates and
// Ctrl-Alt-Del to its devices, and ends the VM (through the VmmThread) when the guest resets or a
// vCPU fails. Phase checks are the caller's (check_phase); this class only does the work.
// Thread: the vmm thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "vmm/base/result.h"
#include "vmm/base/seccomp_filter.h"
#include "vmm/config/vmm_controller.h"
#include "vmm/core/builder.h"
#include "vmm/core/machine.h"
#include "vmm/core/vmm_thread.h"

namespace ember {

class VmRuntime {
public:
    struct Options {
        bool boot_timer = false;
        std::string kvm_path = kvm::Kvm::kDefaultPath;
        std::chrono::steady_clock::time_point launch = std::chrono::steady_clock::now();
        int console_input_fd = 0;
        std::optional<BootTimer::StartTime> boot_timer_start;
        const SeccompFilters* seccomp = nullptr;
    };

    VmRuntime(VmmThread& thread, Options options) : thread_(thread), options_(std::move(options)) {}
    ~VmRuntime() { stop_vcpus(); }
    VmRuntime(const VmRuntime&) = delete;
    VmRuntime& operator=(const VmRuntime&) = delete;

    VmState state() const { return state_; }
    // Null before start.
    Machine* machine() { return machine_.get(); }
    // KVM path and console input, for a snapshot load to build its Machine with.
    BuildOptions build_options() const;

    // Builds `config`'s Machine and runs it; a half-built one is dropped, releasing its fds. The
    // interfaces config.mmds names answer through `mmds_service`, which outlives the Machine.
    Result<void> start(const VmConfig& config, mmds::Responder* mmds_service);
    // Runs a Machine a snapshot load built, its vCPUs parked when `paused`.
    Result<void> adopt(std::unique_ptr<Machine> machine, bool paused);
    // Drops a machine that failed to start or load, releasing its fds.
    void discard();
    void stop_vcpus();

    Result<void> pause();
    Result<void> resume();
    Result<void> send_ctrl_alt_del();
    Result<void> update_drive(const DriveUpdate& update);
    Result<void> update_net(const NetUpdate& update);

    // Last pause and resume, latencies_us.pause_vm and resume_vm.
    uint64_t pause_vm_us() const { return pause_vm_us_; }
    uint64_t resume_vm_us() const { return resume_vm_us_; }

private:
    // Watches machine_'s reset and vCPU-exit events, starts its vCPUs (parked with `paused`)
    // and confines the vmm thread.
    Result<void> launch(bool paused);
    void on_vcpu_exit();

    VmmThread& thread_;
    Options options_;
    VmState state_ = VmState::kNotStarted;
    std::unique_ptr<Machine> machine_;
    bool resetting_ = false;
    uint64_t pause_vm_us_ = 0;
    uint64_t resume_vm_us_ = 0;
};

inline uint64_t elapsed_us(std::chrono::steady_clock::time_point begin) {
    return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                     std::chrono::steady_clock::now() - begin)
                                     .count());
}

}  // namespace ember
