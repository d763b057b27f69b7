// VmmController: the whole control surface of one microVM. The API server and the config-file
// path call it; the VMM implements it by running each call on its own thread.
// Thread: every method may be called from the API thread; it blocks until the VMM answers.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "vmm/base/result.h"
#include "vmm/config/vm_config.h"

namespace ember {

enum class VmState { kNotStarted, kRunning, kPaused };

struct InstanceInfo {
    std::string app_name = "Firecracker";  // Tools match on this name.
    std::string id;
    VmState state = VmState::kNotStarted;
    std::string vmm_version;
};

enum class SnapshotType { kFull, kDiff };
enum class MemBackendType { kFile, kUffd };

struct SnapshotCreateParams {
    std::string snapshot_path;
    std::string mem_file_path;
    SnapshotType type = SnapshotType::kFull;
};

struct NetworkOverride {
    std::string iface_id;
    std::string host_dev_name;
};

// Ember's extension: a clone's own file for a saved drive (same size, since the guest saw it).
struct DriveOverride {
    std::string drive_id;
    std::string path_on_host;
};

struct SnapshotLoadParams {
    std::string snapshot_path;
    MemBackendType backend_type = MemBackendType::kFile;
    std::string backend_path;
    // Ember's extension, File backend only: a working-set record (ember-uffd-handler --record)
    // whose pages are populated before the VM resumes, the written ones copied.
    std::optional<std::string> working_set_path;
    bool track_dirty_pages = false;
    bool resume_vm = false;
    std::vector<NetworkOverride> network_overrides;
    std::vector<DriveOverride> drive_overrides;
    // Firecracker's clock_realtime: kvmclock advanced by the wall-clock time since the save.
    bool clock_realtime = false;
};

class VmmController {
public:
    virtual ~VmmController() = default;

    virtual InstanceInfo instance_info() = 0;
    virtual VmConfig vm_config() = 0;

    // Pre-boot configuration; each fails with a phase error after InstanceStart.
    virtual Result<void> set_boot_source(const BootSourceConfig& config) = 0;
    virtual Result<void> set_machine_config(const MachineConfig& config) = 0;
    virtual Result<void> put_drive(const DriveConfig& config) = 0;
    virtual Result<void> put_net(const NetConfig& config) = 0;
    virtual Result<void> set_logger(const LoggerConfig& config) = 0;
    virtual Result<void> set_metrics(const MetricsConfig& config) = 0;
    virtual Result<void> set_serial(const SerialConfig& config) = 0;
    // PUT /cpu-config: a custom CPU template, in place of any static one.
    virtual Result<void> set_cpu_config(const CpuConfig& config) = 0;

    // Actions.
    virtual Result<void> start() = 0;
    virtual Result<void> send_ctrl_alt_del() = 0;
    virtual Result<void> flush_metrics() = 0;

    // Post-boot.
    virtual Result<void> patch_drive(const DriveUpdate& update) = 0;
    virtual Result<void> patch_net(const NetUpdate& update) = 0;
    virtual Result<void> pause() = 0;
    virtual Result<void> resume() = 0;
    virtual Result<void> create_snapshot(const SnapshotCreateParams& params) = 0;
    virtual Result<void> load_snapshot(const SnapshotLoadParams& params) = 0;

    // MMDS. The data store (JSON text, an object) in every phase; its configuration (which
    // interfaces answer, version, address) before boot only, as Firecracker's.
    virtual Result<void> put_mmds(const std::string& json) = 0;
    virtual Result<void> patch_mmds(const std::string& json) = 0;
    virtual Result<std::string> get_mmds() = 0;
    virtual Result<void> set_mmds_config(const MmdsConfig& config) = 0;
};

}  // namespace ember
