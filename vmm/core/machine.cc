#include "vmm/core/machine.h"

namespace ember {

Result<void> Machine::start_vcpus(std::chrono::steady_clock::time_point launch) {
    for (auto& vcpu : vcpus) {
        VcpuRunner::Options options{.index = vcpu->index(), .launch = launch};
        runners.push_back(std::make_unique<VcpuRunner>(*vcpu, devices.pio_bus(),
                                                       devices.mmio_bus(), vcpu_exit_evt, options));
        EMBER_TRY(runners.back()->start());
    }
    return ok();
}

Result<void> Machine::pause_vcpus() {
    for (auto& runner : runners) EMBER_TRY(runner->pause());
    return ok();
}

Result<void> Machine::resume_vcpus() {
    for (auto& runner : runners) EMBER_TRY(runner->resume());
    return ok();
}

void Machine::stop_vcpus() {
    for (auto& runner : runners) runner->stop();
}

}  // namespace ember
