#include "vmm/core/vm_runtime.h"

#include <mutex>

#include "vmm/base/log.h"
#include "vmm/core/virtio_from_config.h"

namespace ember {

BuildOptions VmRuntime::build_options() const {
    BuildOptions build;
    build.boot_timer = options_.boot_timer;
    build.start = options_.boot_timer_start.value_or(BootTimer::StartTime::now());
    build.kvm_path = options_.kvm_path;
    build.console_input_fd = options_.console_input_fd;
    return build;
}

Result<void> VmRuntime::start(const VmConfig& config, mmds::Responder* mmds_service) {
    BuildOptions options = build_options();
    options.mmds_service = mmds_service;
    Result<std::unique_ptr<Machine>> built = build_machine(config, options, thread_.loop());
    if (!built) return built.error();
    machine_ = std::move(*built);
    if (Result<void> launched = launch(/*paused=*/false); !launched) {
        discard();
        return launched;
    }
    state_ = VmState::kRunning;
    return ok();
}

Result<void> VmRuntime::adopt(std::unique_ptr<Machine> machine, bool paused) {
    machine_ = std::move(machine);
    EMBER_TRY(launch(paused));
    state_ = paused ? VmState::kPaused : VmState::kRunning;
    return ok();
}

Result<void> VmRuntime::launch(bool paused) {
    Machine* machine = machine_.get();
    EventLoop& loop = thread_.loop();
    EMBER_TRY(loop.add(machine->reset_evt.fd(), [this, machine](uint32_t) {
        (void)machine->reset_evt.read();
        // Linux writes the reset command more than once; the first one ends the VM.
        if (thread_.stopping() || resetting_) return;
        resetting_ = true;
        EMBER_INFO("Vmm is stopping: the guest reset the CPU through the i8042");
        thread_.request_exit(VmmThread::kExitOk);
    }));
    EMBER_TRY(loop.add(machine->vcpu_exit_evt.fd(), [this](uint32_t) { on_vcpu_exit(); }));
    const SeccompFilters* seccomp = options_.seccomp;
    EMBER_TRY(machine->start_vcpus(
        options_.launch, seccomp ? &seccomp->program(ThreadKind::kVcpu) : nullptr, paused));
    // As Firecracker: the vmm thread confines itself once the VM is built, because building
    // opens files and devices that its allowlist does not need afterwards; from now on it
    // handles guest-driven device events.
    if (seccomp) EMBER_TRY(seccomp->install(ThreadKind::kVmm));
    return ok();
}

void VmRuntime::discard() {
    if (!machine_) return;
    machine_->stop_vcpus();
    (void)thread_.loop().remove(machine_->reset_evt.fd());
    (void)thread_.loop().remove(machine_->vcpu_exit_evt.fd());
    machine_.reset();
}

void VmRuntime::stop_vcpus() {
    if (machine_) machine_->stop_vcpus();
}

void VmRuntime::on_vcpu_exit() {
    (void)machine_->vcpu_exit_evt.read();
    int code = VmmThread::kExitOk;
    for (const auto& runner : machine_->runners) {
        VcpuRunner::Outcome outcome = runner->outcome();
        if (outcome == VcpuRunner::Outcome::kError || outcome == VcpuRunner::Outcome::kGuestCrash) {
            EMBER_ERROR("vCPU failed: {}", runner->error_message());
            code = VmmThread::kExitGeneric;
        }
    }
    if (code == VmmThread::kExitOk) EMBER_INFO("Vmm is stopping: the guest shut down");
    thread_.request_exit(code);
}

Result<void> VmRuntime::pause() {
    if (state_ == VmState::kPaused) return ok();
    auto begin = std::chrono::steady_clock::now();
    EMBER_TRY(machine_->pause_vcpus());
    state_ = VmState::kPaused;
    pause_vm_us_ = elapsed_us(begin);
    return ok();
}

Result<void> VmRuntime::resume() {
    if (state_ == VmState::kRunning) return ok();
    auto begin = std::chrono::steady_clock::now();
    EMBER_TRY(machine_->resume_vcpus());
    state_ = VmState::kRunning;
    resume_vm_us_ = elapsed_us(begin);
    return ok();
}

Result<void> VmRuntime::send_ctrl_alt_del() {
    I8042* i8042 = machine_->devices.i8042();
    std::lock_guard lock(i8042->mutex());
    return i8042->send_ctrl_alt_del();
}

Result<void> VmRuntime::update_drive(const DriveUpdate& update) {
    return ember::update_drive(machine_->devices, update);
}

Result<void> VmRuntime::update_net(const NetUpdate& update) {
    return ember::update_net(machine_->devices, update);
}

}  // namespace ember
