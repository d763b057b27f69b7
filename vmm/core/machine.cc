#include "vmm/core/machine.h"

namespace ember {

Result<void> Machine::start_vcpus(std::chrono::steady_clock::time_point launch,
                                  const BpfProgram* seccomp, bool paused) {
    for (auto& vcpu : vcpus) {
        VcpuRunner::Options options{
            .index = vcpu->index(), .launch = launch, .seccomp = seccomp, .start_paused = paused};
        runners.push_back(std::make_unique<VcpuRunner>(*vcpu, devices.pio_bus(), devices.mmio_bus(),
                                                       vcpu_exit_evt, options));
        EMBER_TRY(runners.back()->start());
    }
    return ok();
}

Result<void> Machine::pause_vcpus() {
    for (auto& runner : runners) EMBER_TRY(runner->pause());
    paused_clock = EMBER_TRY(vm.clock());
    return ok();
}

Result<void> Machine::resume_vcpus() {
    if (paused_clock) {
        // kvmclock resumes at the value it had when paused, so the guest's monotonic time does
        // not jump by the pause (as QEMU does on stop/cont). No KVM_CLOCK_REALTIME: that would
        // ask KVM to add the elapsed wall time back.
        kvm_clock_data clock = *paused_clock;
        clock.flags = 0;
        EMBER_TRY(vm.set_clock(clock));
        paused_clock.reset();
    }
    for (auto& runner : runners) EMBER_TRY(runner->resume());
    return ok();
}

void Machine::stop_vcpus() {
    for (auto& runner : runners) runner->stop();
}

}  // namespace ember
