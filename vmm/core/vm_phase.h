// The one phase check of the controller: each call names the rule it needs (which VM states
// allow it, and the words of the refusal) and check_phase answers with a wrong-phase error.
// The refusal texts are Firecracker's (rpc_interface.rs VmmActionError, persist.rs): clients and
// its tests match on them, so the message is the text alone, with no context or errno.
#pragma once

#include <cstdint>

#include "vmm/base/result.h"
#include "vmm/config/vmm_controller.h"

namespace ember {

// VmmActionError::OperationNotSupportedPreBoot and ::OperationNotSupportedPostBoot.
inline constexpr const char* kNotSupportedPreBoot =
    "The requested operation is not supported before starting the microVM.";
inline constexpr const char* kNotSupportedPostBoot =
    "The requested operation is not supported after starting the microVM.";
// CreateSnapshotError::MicrovmState(MicrovmStateError::NotAllowed) of a running VM.
inline constexpr const char* kSnapshotWhileRunning =
    "Create snapshot error: Cannot save the microVM state: Operation not allowed: save/restore "
    "unavailable while running";

struct PhaseRule {
    // Bit (1 << VmState) for each state that allows the call.
    uint32_t allowed;
    // The refusal before the VM started, and once it has.
    const char* refusal_before_boot;
    const char* refusal_after_boot;
};

constexpr uint32_t phase_bit(VmState state) { return 1u << static_cast<uint32_t>(state); }

// Pre-boot configuration: PUT of boot source, machine, drives, nets, logger, metrics, serial;
// InstanceStart; a snapshot load (which builds the VM itself).
inline constexpr PhaseRule kPhaseBeforeBoot{phase_bit(VmState::kNotStarted), nullptr,
                                            kNotSupportedPostBoot};
// A started (running or paused) VM: PATCH of a device, pause, resume, SendCtrlAltDel,
// FlushMetrics.
inline constexpr PhaseRule kPhaseStarted{phase_bit(VmState::kRunning) | phase_bit(VmState::kPaused),
                                         kNotSupportedPreBoot, nullptr};
inline constexpr PhaseRule kPhaseDeviceUpdate = kPhaseStarted;
inline constexpr PhaseRule kPhasePaused{phase_bit(VmState::kPaused), kNotSupportedPreBoot,
                                        kSnapshotWhileRunning};
inline constexpr PhaseRule kPhaseNoVm = kPhaseBeforeBoot;

// The rule's refusal for `state` unless the rule allows it. `what` names the call for the reader
// of the caller; Firecracker's texts do not, so neither does the message.
inline Result<void> check_phase(VmState state, const PhaseRule& rule, const char* what) {
    static_cast<void>(what);
    if (rule.allowed & phase_bit(state)) return ok();
    const char* refusal =
        state == VmState::kNotStarted ? rule.refusal_before_boot : rule.refusal_after_boot;
    if (refusal == nullptr) refusal = "The requested operation is not supported now.";
    return Error(std::error_code(), refusal, {}, ErrorKind::kWrongPhase);
}

}  // namespace ember
