#include "vmm/core/vm_snapshots.h"

#include <chrono>

#include <fmt/core.h>

#include "vmm/base/log.h"
#include "vmm/core/snapshot_loader.h"
#include "vmm/core/snapshot_writer.h"
#include "vmm/snapshot/machine_state.h"

namespace ember {

Result<void> VmSnapshots::create(const SnapshotCreateParams& params) {
    if (params.snapshot_path.empty() || params.mem_file_path.empty()) {
        return Error::invalid("PUT /snapshot/create",
                              "snapshot_path and mem_file_path must not be empty");
    }
    Machine& machine = *runtime_.machine();
    if (params.type == SnapshotType::kDiff && !machine.dirty_log) {
        EMBER_INFO("Diff snapshot without track_dirty_pages: saving every resident page");
    }
    auto begin = std::chrono::steady_clock::now();
    Result<SnapshotWritten> written = write_snapshot(machine, resources_.config(), params);
    if (!written) {
        return written.error().within("snapshot create");
    }
    uint64_t us = elapsed_us(begin);
    (params.type == SnapshotType::kDiff ? latencies_.diff_create_snapshot_us
                                        : latencies_.full_create_snapshot_us) = us;
    EMBER_INFO("{} snapshot written in {} us: {} ({} devices), {} ({} pages, {} bytes)",
               params.type == SnapshotType::kDiff ? "Diff" : "Full", us, params.snapshot_path,
               written->devices, params.mem_file_path, written->memory_pages,
               written->memory_file_bytes);
    return ok();
}

Result<void> VmSnapshots::load(const SnapshotLoadParams& params) {
    if (resources_.configured()) {
        // Firecracker's LoadSnapshotError::LoadSnapshotNotAllowed, word for word.
        return Error(std::error_code(),
                     "Load snapshot error: Loading a microVM snapshot not allowed after "
                     "configuring boot-specific resources.",
                     {}, ErrorKind::kWrongPhase);
    }
    if (thread_.stopping()) {
        return Error::wrong_phase("PUT /snapshot/load", "the VMM is shutting down");
    }
    Result<void> loaded = do_load(params);
    if (loaded) return ok();
    // Firecracker's rule: a failed load leaves an unusable process. Drop whatever was built
    // and end once this answer is sent (the API thread writes it before it is joined).
    runtime_.discard();
    EMBER_ERROR("Loading the snapshot failed, the process ends: {}", loaded.error().message());
    thread_.request_exit(VmmThread::kExitGeneric);
    return loaded.error().within("snapshot load");
}

Result<void> VmSnapshots::do_load(const SnapshotLoadParams& params) {
    auto begin = std::chrono::steady_clock::now();
    if (params.backend_path.empty()) {
        return Error::invalid("mem_backend", "backend_path must not be empty");
    }
    // Everything in the file is checked here, before the first KVM call.
    snapshot::MachineState state = EMBER_TRY(snapshot::load(params.snapshot_path));
    // The saved MMDS configuration comes back; the data store stays as it is (empty unless
    // --metadata filled it) until the orchestrator puts it again, as with Firecracker.
    BuildOptions options = runtime_.build_options();
    options.mmds_service = mmds_.make_service(state.mmds);
    LoadedMachine loaded = EMBER_TRY(load_machine(state, params, options, thread_.loop()));
    resources_.replace(std::move(loaded.config));
    EMBER_TRY(runtime_.adopt(std::move(loaded.machine), /*paused=*/!params.resume_vm));
    latencies_.load_snapshot_us = elapsed_us(begin);
    EMBER_INFO("Snapshot {} loaded in {} us ({} memory backend {}), VM {}", params.snapshot_path,
               latencies_.load_snapshot_us,
               params.backend_type == MemBackendType::kFile ? "File" : "Uffd", params.backend_path,
               params.resume_vm ? "running" : "paused");
    return ok();
}

}  // namespace ember
