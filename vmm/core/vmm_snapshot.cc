// Vmm's snapshot controller methods: PUT /snapshot/create on a paused VM and PUT /snapshot/load in
// a fresh process (Firecracker's rules: only logger and metrics may be set before a load, and a
// load that fails ends the process, since nothing half-built may run).
#include <chrono>

#include <fmt/core.h>

#include "vmm/base/log.h"
#include "vmm/core/snapshot_loader.h"
#include "vmm/core/snapshot_writer.h"
#include "vmm/core/vmm.h"
#include "vmm/snapshot/machine_state.h"

namespace ember {

Result<void> Vmm::create_snapshot(const SnapshotCreateParams& params) {
    return on_vmm_thread<Result<void>>([&]() -> Result<void> {
        EMBER_TRY(check_phase(state_, kPaused, "PUT /snapshot/create"));
        if (params.snapshot_path.empty() || params.mem_file_path.empty()) {
            return Error::invalid("PUT /snapshot/create",
                                  "snapshot_path and mem_file_path must not be empty");
        }
        if (params.type == SnapshotType::kDiff && !machine_->dirty_log) {
            EMBER_INFO("Diff snapshot without track_dirty_pages: saving every resident page");
        }
        auto begin = std::chrono::steady_clock::now();
        Result<SnapshotWritten> written = write_snapshot(*machine_, config_, params);
        if (!written) {
            return written.error().within("snapshot create");
        }
        uint64_t us = elapsed_us(begin);
        (params.type == SnapshotType::kDiff ? counters_.diff_create_snapshot_us
                                            : counters_.full_create_snapshot_us) = us;
        EMBER_INFO("{} snapshot written in {} us: {} ({} devices), {} ({} pages, {} bytes)",
                   params.type == SnapshotType::kDiff ? "Diff" : "Full", us,
                   params.snapshot_path, written->devices, params.mem_file_path,
                   written->memory_pages, written->memory_file_bytes);
        return ok();
    });
}

Result<void> Vmm::load_snapshot(const SnapshotLoadParams& params) {
    return on_vmm_thread<Result<void>>([&]() -> Result<void> {
        EMBER_TRY(check_phase(state_, kNoVm, "PUT /snapshot/load"));
        if (configured_) {
            return Error::wrong_phase("PUT /snapshot/load",
                                      "only the logger and metrics may be configured before "
                                      "loading a snapshot");
        }
        if (loop_.stop_requested()) {
            return Error::wrong_phase("PUT /snapshot/load", "the VMM is shutting down");
        }
        Result<void> loaded = do_load_snapshot(params);
        if (loaded) return ok();
        // Firecracker's rule: a failed load leaves an unusable process. Drop whatever was built
        // and end once this answer is sent (the API thread writes it before it is joined).
        discard_machine();
        EMBER_ERROR("Loading the snapshot failed, the process ends: {}",
                    loaded.error().message());
        request_exit(kExitGeneric);
        return loaded.error().within("snapshot load");
    });
}

Result<void> Vmm::do_load_snapshot(const SnapshotLoadParams& params) {
    auto begin = std::chrono::steady_clock::now();
    if (params.backend_path.empty()) {
        return Error::invalid("mem_backend", "backend_path must not be empty");
    }
    // Everything in the file is checked here, before the first KVM call.
    snapshot::MachineState state = EMBER_TRY(snapshot::load(params.snapshot_path));
    BuildOptions build;
    build.kvm_path = options_.kvm_path;
    build.console_input_fd = options_.console_input_fd;
    LoadedMachine loaded = EMBER_TRY(load_machine(state, params, build, loop_));
    machine_ = std::move(loaded.machine);
    config_ = std::move(loaded.config);
    EMBER_TRY(launch_machine(/*paused=*/!params.resume_vm));
    state_ = params.resume_vm ? VmState::kRunning : VmState::kPaused;
    counters_.load_snapshot_us = elapsed_us(begin);
    EMBER_INFO("Snapshot {} loaded in {} us ({} memory backend {}), VM {}", params.snapshot_path,
               counters_.load_snapshot_us,
               params.backend_type == MemBackendType::kFile ? "File" : "Uffd",
               params.backend_path, params.resume_vm ? "running" : "paused");
    return ok();
}

}  // namespace ember
