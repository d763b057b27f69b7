// FakeVmmController: a VmmController that records every call and keeps the configuration it is
// given, for API tests and fuzzers. `fail_with` makes every mutating call fail, as a wrong-phase
// call to the real VMM does.
#pragma once

#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "vmm/config/vmm_controller.h"

namespace ember::testing {

class FakeVmmController : public VmmController {
public:
    // Thread: any (the API thread calls, the test thread inspects).
    std::vector<std::string> calls() const {
        std::lock_guard lock(mu_);
        return calls_;
    }
    std::string last_call() const {
        std::lock_guard lock(mu_);
        return calls_.empty() ? std::string() : calls_.back();
    }
    void fail_with(std::optional<Error> error) {
        std::lock_guard lock(mu_);
        error_ = std::move(error);
    }

    InstanceInfo instance_info() override {
        std::lock_guard lock(mu_);
        calls_.emplace_back("instance_info");
        return info;
    }
    VmConfig vm_config() override {
        std::lock_guard lock(mu_);
        calls_.emplace_back("vm_config");
        return config;
    }
    Result<void> set_boot_source(const BootSourceConfig& c) override {
        return record("set_boot_source", [&] { config.boot_source = c; });
    }
    Result<void> set_machine_config(const MachineConfig& c) override {
        return record("set_machine_config", [&] { config.machine = c; });
    }
    Result<void> put_drive(const DriveConfig& c) override {
        return record("put_drive", [&] {
            for (DriveConfig& d : config.drives) {
                if (d.drive_id == c.drive_id) {
                    d = c;
                    return;
                }
            }
            config.drives.push_back(c);
        });
    }
    Result<void> put_net(const NetConfig& c) override {
        return record("put_net", [&] {
            for (NetConfig& n : config.nets) {
                if (n.iface_id == c.iface_id) {
                    n = c;
                    return;
                }
            }
            config.nets.push_back(c);
        });
    }
    Result<void> set_logger(const LoggerConfig& c) override {
        return record("set_logger", [&] { config.logger = c; });
    }
    Result<void> set_metrics(const MetricsConfig& c) override {
        return record("set_metrics", [&] { config.metrics = c; });
    }
    Result<void> set_serial(const SerialConfig& c) override {
        return record("set_serial", [&] { config.serial = c; });
    }
    Result<void> set_cpu_config(const CpuConfig& c) override {
        return record("set_cpu_config", [&] { config.cpu_config = c; });
    }
    Result<void> start() override {
        return record("start", [&] { info.state = VmState::kRunning; });
    }
    Result<void> send_ctrl_alt_del() override {
        return record("send_ctrl_alt_del", [] {});
    }
    Result<void> flush_metrics() override {
        return record("flush_metrics", [] {});
    }
    Result<void> patch_drive(const DriveUpdate& u) override {
        return record("patch_drive", [&] { last_drive_update = u; });
    }
    Result<void> patch_net(const NetUpdate& u) override {
        return record("patch_net", [&] { last_net_update = u; });
    }
    Result<void> pause() override {
        return record("pause", [&] { info.state = VmState::kPaused; });
    }
    Result<void> resume() override {
        return record("resume", [&] { info.state = VmState::kRunning; });
    }
    Result<void> create_snapshot(const SnapshotCreateParams& p) override {
        return record("create_snapshot", [&] { last_snapshot_create = p; });
    }
    Result<void> load_snapshot(const SnapshotLoadParams& p) override {
        return record("load_snapshot", [&] { last_snapshot_load = p; });
    }
    // MMDS: the store is the JSON text last put or patched (a patch is kept, not merged).
    Result<void> put_mmds(const std::string& json) override {
        return record("put_mmds", [&] { mmds_json = json; });
    }
    Result<void> patch_mmds(const std::string& json) override {
        return record("patch_mmds", [&] { mmds_json = json; });
    }
    Result<std::string> get_mmds() override {
        EMBER_TRY(record("get_mmds", [] {}));
        std::lock_guard lock(mu_);
        return mmds_json;
    }
    Result<void> set_mmds_config(const MmdsConfig& c) override {
        return record("set_mmds_config", [&] { config.mmds = c; });
    }

    // What the fake holds; read by tests after the calls have returned.
    InstanceInfo info{.id = "anonymous-instance", .vmm_version = "1.7.0"};
    VmConfig config;
    std::optional<DriveUpdate> last_drive_update;
    std::optional<NetUpdate> last_net_update;
    std::optional<SnapshotCreateParams> last_snapshot_create;
    std::optional<SnapshotLoadParams> last_snapshot_load;
    std::string mmds_json = "{}";

private:
    template <typename Apply>
    Result<void> record(const char* name, Apply apply) {
        std::lock_guard lock(mu_);
        calls_.emplace_back(name);
        if (error_) return *error_;
        apply();
        return ok();
    }

    mutable std::mutex mu_;
    std::vector<std::string> calls_;
    std::optional<Error> error_;
};

}  // namespace ember::testing
