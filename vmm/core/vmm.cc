#include "vmm/core/vmm.h"

#include "vmm/base/log.h"
#include "vmm/core/vm_phase.h"

namespace ember {

Result<std::unique_ptr<Vmm>> Vmm::create(Options options) {
    std::unique_ptr<VmmThread> thread = EMBER_TRY(VmmThread::create());
    TimerFd metrics_timer = EMBER_TRY(TimerFd::create());
    std::unique_ptr<Vmm> vmm(
        new Vmm(std::move(options), std::move(thread), std::move(metrics_timer)));
    Vmm* self = vmm.get();
    EMBER_TRY(vmm->thread_->loop().add(vmm->metrics_timer_.fd(),
                                       [self](uint32_t) { self->on_metrics_timer(); }));
    return vmm;
}

Vmm::Vmm(Options options, std::unique_ptr<VmmThread> thread, TimerFd metrics_timer)
    : options_(std::move(options)),
      thread_(std::move(thread)),
      mmds_(options_.mmds_size_limit),
      runtime_(*thread_, VmRuntime::Options{.boot_timer = options_.boot_timer,
                                            .kvm_path = options_.kvm_path,
                                            .launch = options_.launch,
                                            .console_input_fd = options_.console_input_fd,
                                            .boot_timer_start = options_.boot_timer_start,
                                            .seccomp = options_.seccomp}),
      metrics_timer_(std::move(metrics_timer)) {}

Result<void> Vmm::exit_on(ExitSignals signals) {
    exit_signals_ = std::move(signals);
    return thread_->loop().add(exit_signals_->fd(), [this](uint32_t) {
        Result<int> signo = exit_signals_->read();
        if (!signo) return;
        EMBER_INFO("Vmm is stopping: signal {}", *signo);
        request_exit(exit_code_for_signal(*signo));
    });
}

int Vmm::run() {
    return thread_->run([this] {
        runtime_.stop_vcpus();
        // As Firecracker's Vmm::stop: the last counters reach the metrics file.
        if (metrics_) (void)write_metrics();
    });
}

Result<void> Vmm::in_phase(const PhaseRule& rule, const char* what,
                           const std::function<Result<void>()>& call) {
    return thread_->call<Result<void>>([&]() -> Result<void> {
        EMBER_TRY(check_phase(runtime_.state(), rule, what));
        return call();
    });
}

InstanceInfo Vmm::instance_info() {
    return thread_->call<InstanceInfo>([this] {
        InstanceInfo info;
        info.id = options_.instance_id;
        info.state = runtime_.state();
        info.vmm_version = EMBER_VERSION;
        return info;
    });
}

VmConfig Vmm::vm_config() {
    return thread_->call<VmConfig>([this] { return resources_.config(); });
}

Result<void> Vmm::set_boot_source(const BootSourceConfig& config) {
    return in_phase(kPhaseBeforeBoot, "PUT /boot-source",
                    [&] { return resources_.set_boot_source(config); });
}

Result<void> Vmm::set_machine_config(const MachineConfig& config) {
    return in_phase(kPhaseBeforeBoot, "PUT /machine-config",
                    [&] { return resources_.set_machine_config(config); });
}

Result<void> Vmm::put_drive(const DriveConfig& config) {
    return in_phase(kPhaseBeforeBoot, "PUT /drives", [&] { return resources_.put_drive(config); });
}

Result<void> Vmm::put_net(const NetConfig& config) {
    return in_phase(kPhaseBeforeBoot, "PUT /network-interfaces",
                    [&] { return resources_.put_net(config); });
}

Result<void> Vmm::set_serial(const SerialConfig& config) {
    return in_phase(kPhaseBeforeBoot, "PUT /serial", [&] {
        resources_.set_serial(config);
        return ok();
    });
}

Result<void> Vmm::set_cpu_config(const CpuConfig& config) {
    return in_phase(kPhaseBeforeBoot, "PUT /cpu-config", [&] {
        resources_.set_cpu_config(config);
        return ok();
    });
}

Result<void> Vmm::configure(const VmConfig& config) {
    return in_phase(kPhaseBeforeBoot, "configure VM", [&] {
        return resources_.configure(config, [this](const VmConfig& valid) -> Result<void> {
            // As Firecracker's build_microvm_from_json: the file's logger and metrics apply at
            // once.
            if (valid.logger) EMBER_TRY(apply_logger(*valid.logger));
            if (valid.metrics && valid.metrics != resources_.config().metrics) {
                EMBER_TRY(apply_metrics(*valid.metrics));
            }
            return ok();
        });
    });
}

Result<void> Vmm::start() {
    return in_phase(kPhaseBeforeBoot, "InstanceStart", [this]() -> Result<void> {
        if (thread_->stopping()) {
            return Error::wrong_phase("InstanceStart", "the VMM is shutting down");
        }
        const VmConfig& config = resources_.config();
        Result<void> started = runtime_.start(config, mmds_.make_service(config.mmds));
        if (started) return ok();
        // The API answers 400 with this; the process keeps serving (e.g. without /dev/kvm).
        return Error::invalid("InstanceStart failed", started.error().message())
            .with_kind(started.error().kind());
    });
}

Result<void> Vmm::send_ctrl_alt_del() {
    return in_phase(kPhaseStarted, "SendCtrlAltDel",
                    [this] { return runtime_.send_ctrl_alt_del(); });
}

Result<void> Vmm::pause() {
    return in_phase(kPhaseStarted, "pause", [this] { return runtime_.pause(); });
}

Result<void> Vmm::resume() {
    return in_phase(kPhaseStarted, "resume", [this] { return runtime_.resume(); });
}

Result<void> Vmm::patch_drive(const DriveUpdate& update) {
    return in_phase(kPhaseDeviceUpdate, "PATCH /drives", [&]() -> Result<void> {
        EMBER_TRY(update.validate());
        EMBER_TRY(resources_.find_drive(update.drive_id));
        EMBER_TRY(runtime_.update_drive(update));
        resources_.record(update);
        return ok();
    });
}

Result<void> Vmm::patch_net(const NetUpdate& update) {
    return in_phase(kPhaseDeviceUpdate, "PATCH /network-interfaces", [&]() -> Result<void> {
        EMBER_TRY(update.validate());
        EMBER_TRY(resources_.find_net(update.iface_id));
        EMBER_TRY(runtime_.update_net(update));
        resources_.record(update);
        return ok();
    });
}

Result<void> Vmm::create_snapshot(const SnapshotCreateParams& params) {
    return in_phase(kPhasePaused, "PUT /snapshot/create",
                    [&] { return snapshots_.create(params); });
}

Result<void> Vmm::load_snapshot(const SnapshotLoadParams& params) {
    return in_phase(kPhaseNoVm, "PUT /snapshot/load", [&] { return snapshots_.load(params); });
}

// Firecracker allows the data store in every phase: the orchestrator refreshes credentials in a
// running guest and puts the store again after a snapshot load.
Result<void> Vmm::put_mmds(const std::string& json) {
    return thread_->call<Result<void>>([&] { return mmds_.store().put(json); });
}

Result<void> Vmm::patch_mmds(const std::string& json) {
    return thread_->call<Result<void>>([&] { return mmds_.store().patch(json); });
}

Result<std::string> Vmm::get_mmds() {
    return thread_->call<Result<std::string>>(
        [&]() -> Result<std::string> { return mmds_.store().get_json(); });
}

Result<void> Vmm::set_mmds_config(const MmdsConfig& config) {
    return in_phase(kPhaseBeforeBoot, "PUT /mmds/config",
                    [&] { return resources_.set_mmds_config(config); });
}

}  // namespace ember
