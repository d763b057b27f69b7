// VmResources: the one owner of the VM's configuration. Before boot it is the VM being built:
// each PUT is checked once, by VmConfig::validate over the configuration it would make (which
// holds the cross-object rules: one root drive, unique ids, taps and MACs), and kept only if
// that passes; a drive's file and a tap are opened to check them. After boot it follows the
// running VM (PATCH, snapshot load) for GET /vm/config and the next snapshot.
// Thread: the vmm thread.
#pragma once

#include <functional>
#include <string>

#include "vmm/base/result.h"
#include "vmm/config/vm_config.h"

namespace ember {

class VmResources {
public:
    const VmConfig& config() const { return config_; }
    // A boot-specific setting (anything but logger, metrics and serial) was made: a snapshot
    // load is refused, as Firecracker's boot_path.
    bool configured() const { return configured_; }

    Result<void> set_boot_source(const BootSourceConfig& boot_source);
    // As Firecracker's VmConfig::update: a cpu_template the request names replaces any template
    // (None clears a custom one too); an unnamed one keeps what is set.
    Result<void> set_machine_config(const MachineConfig& machine);
    // A custom CPU template replaces a static one (GET shows cpu_template "None").
    void set_cpu_config(const CpuConfig& cpu_config);
    Result<void> put_drive(const DriveConfig& drive);
    Result<void> put_net(const NetConfig& net);
    void set_serial(const SerialConfig& serial);
    Result<void> set_mmds_config(const MmdsConfig& mmds);
    void set_logger(const LoggerConfig& logger) { config_.logger = logger; }
    void set_metrics(const MetricsConfig& metrics) { config_.metrics = metrics; }
    // The whole configuration at once (--config-file), handed to `apply` (which sets up its
    // logger and metrics) once valid; metrics set earlier (--metrics-path) stay unless the file
    // names its own.
    using Apply = std::function<Result<void>(const VmConfig&)>;
    Result<void> configure(const VmConfig& config, const Apply& apply);

    // After boot: the configuration of the drive or interface an update names (not found
    // otherwise), and the update recorded once the device took it.
    Result<void> find_drive(const std::string& drive_id) const;
    Result<void> find_net(const std::string& iface_id) const;
    void record(const DriveUpdate& update);
    void record(const NetUpdate& update);

    // The configuration a snapshot load rebuilt.
    void replace(VmConfig config) { config_ = std::move(config); }

private:
    // Keeps `candidate` if it is valid as a whole.
    Result<void> commit(VmConfig candidate);

    VmConfig config_;
    bool configured_ = false;
};

}  // namespace ember
