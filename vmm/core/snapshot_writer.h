// Writing a snapshot of a paused Machine (PUT /snapshot/create): its vCPU, VM and device state into
// the state file, its guest memory into the memory file, either all of it (Full) or only the pages
// written since the previous snapshot or restore (Diff), which ember-snapshot merge-diff lays onto
// the full file they came from.
// Thread: the vmm thread, with every vCPU paused.
#pragma once

#include <cstdint>

#include "vmm/base/result.h"
#include "vmm/config/vm_config.h"
#include "vmm/config/vmm_controller.h"
#include "vmm/core/machine.h"

namespace ember {

struct SnapshotWritten {
    uint64_t memory_pages = 0;  // Pages with data in the memory file.
    uint64_t memory_file_bytes = 0;
    uint64_t devices = 0;
};

// `config` is the VM's current configuration (drive paths after PATCH, taps after
// network_overrides): the restoring process rebuilds the devices from it. Block devices are
// quiesced first. Every snapshot, full or diff, starts the next diff's dirty tracking afresh.
Result<SnapshotWritten> write_snapshot(Machine& machine, const VmConfig& config,
                                       const SnapshotCreateParams& params);

}  // namespace ember
