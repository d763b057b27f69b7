// Vmm: one microVM, and the VmmController the API and the config file call. A thin facade: each
// call runs on the vmm thread (VmmThread), passes the one phase check (check_phase) and goes to
// the part that does the job: VmResources (the configuration, before boot), VmRuntime (the
// running machine), VmSnapshots (snapshot save and load). Vmm itself keeps the logger and
// metrics (vmm_metrics.cc).
// Thread: run() is the vmm thread; the controller methods may be called from any thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "vmm/base/log.h"
#include "vmm/base/metrics_writer.h"
#include "vmm/base/result.h"
#include "vmm/base/seccomp_filter.h"
#include "vmm/base/terminal.h"
#include "vmm/base/timer_fd.h"
#include "vmm/config/vmm_controller.h"
#include "vmm/core/machine.h"
#include "vmm/core/vm_mmds.h"
#include "vmm/core/vm_phase.h"
#include "vmm/core/vm_resources.h"
#include "vmm/core/vm_runtime.h"
#include "vmm/core/vm_snapshots.h"
#include "vmm/core/vmm_thread.h"

namespace ember {

class Vmm : public VmmController {
public:
    struct Options {
        std::string instance_id = "anonymous-instance";
        bool boot_timer = false;
        std::string kvm_path = kvm::Kvm::kDefaultPath;
        // Process start, for the first-KVM_RUN and boot-time measurements.
        std::chrono::steady_clock::time_point launch = std::chrono::steady_clock::now();
        int console_input_fd = 0;
        // Where the boot timer counts from: --start-time-us, or process start for --config-file;
        // unset, the InstanceStart request (Firecracker's API behaviour).
        std::optional<BootTimer::StartTime> boot_timer_start;
        // Per-thread seccomp programs, owned by main; null runs unconfined (--no-seccomp).
        const SeccompFilters* seccomp = nullptr;
        // The logger settings main applied; PUT /logger starts from them.
        log::Options log;
        // Metrics are written every period once a metrics path is set (Firecracker: 60 s).
        std::chrono::milliseconds metrics_period{60'000};
        // The MMDS data store's limit in bytes (--mmds-size-limit).
        size_t mmds_size_limit = mmds::MmdsStore::kDefaultSizeLimit;
    };

    // Adds metric groups to each metrics line (the API's request counters, per-device groups).
    // Called on the vmm thread at every flush. Thread: register before run().
    using MetricsSource = std::function<void(std::vector<MetricGroup>& groups)>;

    static constexpr int kExitOk = VmmThread::kExitOk;
    static constexpr int kExitGeneric = VmmThread::kExitGeneric;

    static Result<std::unique_ptr<Vmm>> create(Options options);
    ~Vmm() override = default;

    // Runs the event loop on the calling thread (which becomes the vmm thread) until the guest
    // resets or powers off (kExitOk), a vCPU fails (kExitGeneric) or request_exit() is called.
    int run();
    // Thread: any. Ends run() with `code`.
    void request_exit(int code) { thread_->request_exit(code); }

    // VmmController.
    InstanceInfo instance_info() override;
    VmConfig vm_config() override;
    Result<void> set_boot_source(const BootSourceConfig& config) override;
    Result<void> set_machine_config(const MachineConfig& config) override;
    Result<void> put_drive(const DriveConfig& config) override;
    Result<void> put_net(const NetConfig& config) override;
    Result<void> set_logger(const LoggerConfig& config) override;
    Result<void> set_metrics(const MetricsConfig& config) override;
    Result<void> set_serial(const SerialConfig& config) override;
    Result<void> set_cpu_config(const CpuConfig& config) override;
    Result<void> start() override;
    Result<void> send_ctrl_alt_del() override;
    Result<void> flush_metrics() override;
    Result<void> patch_drive(const DriveUpdate& update) override;
    Result<void> patch_net(const NetUpdate& update) override;
    Result<void> pause() override;
    Result<void> resume() override;
    Result<void> create_snapshot(const SnapshotCreateParams& params) override;
    Result<void> load_snapshot(const SnapshotLoadParams& params) override;
    Result<void> put_mmds(const std::string& json) override;
    Result<void> patch_mmds(const std::string& json) override;
    Result<std::string> get_mmds() override;
    Result<void> set_mmds_config(const MmdsConfig& config) override;

    // Replaces the whole pre-boot configuration (the --config-file path). Thread: any.
    Result<void> configure(const VmConfig& config);

    // Ends run() with exit_code_for_signal(signo) when one of `signals` arrives, so that the
    // normal return path (and the console terminal's restore) runs. Thread: before run().
    Result<void> exit_on(ExitSignals signals);

    // The running machine, for tests; null before start. Thread: vmm.
    Machine* machine() { return runtime_.machine(); }

    void add_metrics_source(MetricsSource source) { metrics_sources_.push_back(std::move(source)); }

private:
    Vmm(Options options, std::unique_ptr<VmmThread> thread, TimerFd metrics_timer);

    // Runs `call` on the vmm thread once `rule` allows the VM's phase.
    Result<void> in_phase(const PhaseRule& rule, const char* what,
                          const std::function<Result<void>()>& call);

    // Logger and metrics (vmm_metrics.cc). Thread: vmm.
    Result<void> apply_logger(const LoggerConfig& config);
    Result<void> apply_metrics(const MetricsConfig& config);
    std::vector<MetricGroup> collect_metrics();
    Result<void> write_metrics();
    void on_metrics_timer();

    Options options_;
    std::unique_ptr<VmmThread> thread_;
    // vmm thread only. The runtime is declared after the resources and the MMDS: its vCPUs stop
    // and its devices go first.
    VmMmds mmds_;
    VmResources resources_;
    VmRuntime runtime_;
    VmSnapshots snapshots_{*thread_, resources_, runtime_, mmds_};
    TimerFd metrics_timer_;
    std::optional<MetricsWriter> metrics_;
    std::optional<ExitSignals> exit_signals_;
    std::vector<MetricsSource> metrics_sources_;
    uint64_t metrics_fails_ = 0;
    uint64_t log_fails_ = 0;
};

}  // namespace ember
