// Building a Machine from a snapshot (PUT /snapshot/load) in a fresh process: the same KVM VM and
// devices at the same addresses, guest memory from the memory file (File: mapped MAP_PRIVATE, so
// pages load on first touch and the file is never written; Uffd: anonymous memory that the
// page-fault handler at backend_path fills), then the saved vCPU, VM and device state. Everything
// in the state file is decoded and checked before the first KVM call. The vCPUs are created but
// not started.
// Thread: the vmm thread.
#pragma once

#include <memory>

#include "vmm/base/result.h"
#include "vmm/config/vm_config.h"
#include "vmm/config/vmm_controller.h"
#include "vmm/core/builder.h"
#include "vmm/core/event_loop.h"
#include "vmm/core/machine.h"
#include "vmm/snapshot/machine_state.h"

namespace ember {

struct LoadedMachine {
    std::unique_ptr<Machine> machine;
    // What GET /vm/config shows and the next snapshot saves: the snapshot's machine, drives,
    // network interfaces (taps after network_overrides) and MMDS configuration; no boot source.
    VmConfig config;
};

// `options` gives the KVM path, console input and the MMDS service (made for state.mmds; the
// interfaces it names answer through it); its boot-timer fields are ignored (the timer exists
// when the snapshot has one).
Result<LoadedMachine> load_machine(const snapshot::MachineState& state,
                                   const SnapshotLoadParams& params, const BuildOptions& options,
                                   EventLoop& loop);

}  // namespace ember
