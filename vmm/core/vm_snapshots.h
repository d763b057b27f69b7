// VmSnapshots: PUT /snapshot/create on a paused VM and PUT /snapshot/load in a fresh process
// (Firecracker's rules: only logger and metrics may be set before a load, and a load that fails
// ends the process, since nothing half-built may run). The caller checks the phase.
// Thread: the vmm thread.
#pragma once

#include <cstdint>

#include "vmm/base/result.h"
#include "vmm/config/vmm_controller.h"
#include "vmm/core/vm_mmds.h"
#include "vmm/core/vm_resources.h"
#include "vmm/core/vm_runtime.h"
#include "vmm/core/vmm_thread.h"

namespace ember {

class VmSnapshots {
public:
    VmSnapshots(VmmThread& thread, VmResources& resources, VmRuntime& runtime, VmMmds& mmds)
        : thread_(thread), resources_(resources), runtime_(runtime), mmds_(mmds) {}

    // Writes the paused VM's state and memory.
    Result<void> create(const SnapshotCreateParams& params);
    // Builds the saved VM and runs it (or leaves it paused); on failure ends the process once
    // the answer is sent.
    Result<void> load(const SnapshotLoadParams& params);

    // latencies_us, as Firecracker's names.
    struct Latencies {
        uint64_t full_create_snapshot_us = 0;
        uint64_t diff_create_snapshot_us = 0;
        uint64_t load_snapshot_us = 0;
    };
    const Latencies& latencies() const { return latencies_; }

private:
    Result<void> do_load(const SnapshotLoadParams& params);

    VmmThread& thread_;
    VmResources& resources_;
    VmRuntime& runtime_;
    VmMmds& mmds_;
    Latencies latencies_;
};

}  // namespace ember
