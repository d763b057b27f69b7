// The one phase check of the controller: each call names the rule it needs (which VM states
// allow it, and the words of the refusal) and check_phase answers with a wrong-phase error.
// The refusal texts are Ember's API answers; clients and tests match on them.
#pragma once

#include <cstdint>

#include "vmm/base/result.h"
#include "vmm/config/vmm_controller.h"

namespace ember {

struct PhaseRule {
    // Bit (1 << VmState) for each state that allows the call.
    uint32_t allowed;
    const char* refusal;
};

constexpr uint32_t phase_bit(VmState state) { return 1u << static_cast<uint32_t>(state); }

// Pre-boot configuration: PUT of boot source, machine, drives, nets, logger, metrics, serial;
// InstanceStart.
inline constexpr PhaseRule kPhaseBeforeBoot{phase_bit(VmState::kNotStarted),
                                            "the operation is not supported after the VM started"};
// PATCH of a running (or paused) device.
inline constexpr PhaseRule kPhaseDeviceUpdate{
    phase_bit(VmState::kRunning) | phase_bit(VmState::kPaused),
    "the operation is not supported before the VM started"};
// Actions on a started VM: pause, resume, SendCtrlAltDel.
inline constexpr PhaseRule kPhaseStarted{phase_bit(VmState::kRunning) | phase_bit(VmState::kPaused),
                                         "the VM is not started"};
inline constexpr PhaseRule kPhasePaused{phase_bit(VmState::kPaused),
                                        "the VM must be paused (PATCH /vm Paused)"};
// A snapshot load builds the VM itself.
inline constexpr PhaseRule kPhaseNoVm{phase_bit(VmState::kNotStarted),
                                      "a snapshot can only be loaded into a process with no VM"};

// "what: refusal: Operation not permitted" unless `rule` allows `state`.
inline Result<void> check_phase(VmState state, const PhaseRule& rule, const char* what) {
    if (rule.allowed & phase_bit(state)) return ok();
    return Error::wrong_phase(what, rule.refusal);
}

}  // namespace ember
