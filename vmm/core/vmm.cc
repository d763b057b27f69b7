#include "vmm/core/vmm.h"

#include <optional>

#include "vmm/base/log.h"

namespace ember {
namespace {

Error not_supported(const char* what) {
    return Error(std::make_error_code(std::errc::not_supported), what, "not supported yet");
}

Error wrong_phase(const char* what, const char* phase) {
    return Error(std::make_error_code(std::errc::operation_not_permitted), what, phase);
}

}  // namespace

Result<std::unique_ptr<Vmm>> Vmm::create(Options options) {
    EventLoop loop = EMBER_TRY(EventLoop::create());
    EventFd task_evt = EMBER_TRY(EventFd::create());
    EventFd exit_evt = EMBER_TRY(EventFd::create());
    std::unique_ptr<Vmm> vmm(
        new Vmm(std::move(options), std::move(loop), std::move(task_evt), std::move(exit_evt)));
    Vmm* self = vmm.get();
    EMBER_TRY(vmm->loop_.add(vmm->task_evt_.fd(), [self](uint32_t) { self->run_queued_tasks(); }));
    EMBER_TRY(vmm->loop_.add(vmm->exit_evt_.fd(), [self](uint32_t) {
        (void)self->exit_evt_.read();
        self->loop_.request_stop();
    }));
    return vmm;
}

Vmm::Vmm(Options options, EventLoop loop, EventFd task_evt, EventFd exit_evt)
    : options_(std::move(options)),
      loop_(std::move(loop)),
      task_evt_(std::move(task_evt)),
      exit_evt_(std::move(exit_evt)),
      vmm_thread_(std::this_thread::get_id()) {}

Vmm::~Vmm() {
    if (machine_) machine_->stop_vcpus();
}

template <typename T>
T Vmm::on_vmm_thread(std::function<T()> task) {
    if (std::this_thread::get_id() == vmm_thread_) return task();
    std::mutex mu;
    std::condition_variable cv;
    std::optional<T> result;
    {
        std::lock_guard lock(tasks_mu_);
        tasks_.push_back([&] {
            T value = task();
            std::lock_guard done(mu);
            result.emplace(std::move(value));
            cv.notify_one();
        });
    }
    if (!task_evt_.write(1)) EMBER_ERROR("cannot wake the vmm thread");
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return result.has_value(); });
    return std::move(*result);
}

void Vmm::run_queued_tasks() {
    (void)task_evt_.read();
    std::deque<std::function<void()>> batch;
    {
        std::lock_guard lock(tasks_mu_);
        batch.swap(tasks_);
    }
    for (auto& task : batch) task();
}

int Vmm::run() {
    vmm_thread_ = std::this_thread::get_id();
    log::set_thread_name("firecracker");
    Result<void> ran = loop_.run();
    if (!ran) {
        EMBER_ERROR("event loop failed: {}", ran.error().message());
        request_exit(kExitGeneric);
    }
    // Tasks still queued get an answer instead of blocking their callers forever.
    run_queued_tasks();
    if (machine_) machine_->stop_vcpus();
    std::lock_guard lock(exit_mu_);
    return exit_code_;
}

void Vmm::request_exit(int code) {
    {
        std::lock_guard lock(exit_mu_);
        exit_code_ = code;
    }
    if (!exit_evt_.write(1)) EMBER_ERROR("cannot signal the vmm thread to exit");
}

void Vmm::on_vcpu_exit() {
    (void)machine_->vcpu_exit_evt.read();
    int code = kExitOk;
    for (const auto& runner : machine_->runners) {
        VcpuRunner::Outcome outcome = runner->outcome();
        if (outcome == VcpuRunner::Outcome::kError || outcome == VcpuRunner::Outcome::kGuestCrash) {
            EMBER_ERROR("vCPU failed: {}", runner->error_message());
            code = kExitGeneric;
        }
    }
    if (code == kExitOk) EMBER_INFO("Vmm is stopping: the guest shut down");
    request_exit(code);
}

InstanceInfo Vmm::instance_info() {
    return on_vmm_thread<InstanceInfo>([this] {
        InstanceInfo info;
        info.id = options_.instance_id;
        info.state = state_;
        info.vmm_version = EMBER_VERSION;
        return info;
    });
}

VmConfig Vmm::vm_config() {
    return on_vmm_thread<VmConfig>([this] { return config_; });
}

Result<void> Vmm::require_not_started(const char* what) const {
    if (state_ != VmState::kNotStarted) {
        return wrong_phase(what, "the operation is not supported after the VM started");
    }
    return ok();
}

Result<void> Vmm::set_boot_source(const BootSourceConfig& config) {
    return on_vmm_thread<Result<void>>([&]() -> Result<void> {
        EMBER_TRY(require_not_started("PUT /boot-source"));
        EMBER_TRY(config.validate());
        config_.boot_source = config;
        return ok();
    });
}

Result<void> Vmm::set_machine_config(const MachineConfig& config) {
    return on_vmm_thread<Result<void>>([&]() -> Result<void> {
        EMBER_TRY(require_not_started("PUT /machine-config"));
        EMBER_TRY(config.validate());
        config_.machine = config;
        return ok();
    });
}

Result<void> Vmm::configure(const VmConfig& config) {
    return on_vmm_thread<Result<void>>([&]() -> Result<void> {
        EMBER_TRY(require_not_started("configure VM"));
        EMBER_TRY(config.validate());
        config_ = config;
        return ok();
    });
}

Result<void> Vmm::put_drive(const DriveConfig&) { return not_supported("PUT /drives"); }
Result<void> Vmm::put_net(const NetConfig&) { return not_supported("PUT /network-interfaces"); }
Result<void> Vmm::set_logger(const LoggerConfig&) { return not_supported("PUT /logger"); }
Result<void> Vmm::set_metrics(const MetricsConfig&) { return not_supported("PUT /metrics"); }

Result<void> Vmm::set_serial(const SerialConfig& config) {
    return on_vmm_thread<Result<void>>([&]() -> Result<void> {
        EMBER_TRY(require_not_started("PUT /serial"));
        config_.serial = config;
        return ok();
    });
}

Result<void> Vmm::do_start() {
    EMBER_TRY(require_not_started("InstanceStart"));
    BuildOptions build;
    build.boot_timer = options_.boot_timer;
    build.start = BootTimer::StartTime::now();  // Boot time counts from VM construction.
    build.kvm_path = options_.kvm_path;
    build.console_input_fd = options_.console_input_fd;
    machine_ = EMBER_TRY(build_machine(config_, build, loop_));
    Machine* machine = machine_.get();
    EMBER_TRY(loop_.add(machine->reset_evt.fd(), [this, machine](uint32_t) {
        (void)machine->reset_evt.read();
        // Linux writes the reset command more than once; the first one ends the VM.
        if (loop_.stop_requested() || resetting_) return;
        resetting_ = true;
        EMBER_INFO("Vmm is stopping: the guest reset the CPU through the i8042");
        request_exit(kExitOk);
    }));
    EMBER_TRY(loop_.add(machine->vcpu_exit_evt.fd(), [this](uint32_t) { on_vcpu_exit(); }));
    EMBER_TRY(machine->start_vcpus(options_.launch));
    state_ = VmState::kRunning;
    return ok();
}

Result<void> Vmm::start() {
    return on_vmm_thread<Result<void>>([this]() -> Result<void> {
        Result<void> started = do_start();
        if (!started && machine_) {
            // A half-built VM cannot be started again: drop it so that the fds are released.
            machine_->stop_vcpus();
            (void)loop_.remove(machine_->reset_evt.fd());
            (void)loop_.remove(machine_->vcpu_exit_evt.fd());
            machine_.reset();
        }
        return started;
    });
}

Result<void> Vmm::send_ctrl_alt_del() {
    return on_vmm_thread<Result<void>>([this]() -> Result<void> {
        if (state_ == VmState::kNotStarted) {
            return wrong_phase("SendCtrlAltDel", "the VM is not started");
        }
        I8042* i8042 = machine_->devices.i8042();
        std::lock_guard lock(i8042->mutex());
        return i8042->send_ctrl_alt_del();
    });
}

Result<void> Vmm::flush_metrics() { return not_supported("FlushMetrics"); }
Result<void> Vmm::patch_drive(const DriveUpdate&) { return not_supported("PATCH /drives"); }
Result<void> Vmm::patch_net(const NetUpdate&) { return not_supported("PATCH /network-interfaces"); }

Result<void> Vmm::pause() {
    return on_vmm_thread<Result<void>>([this]() -> Result<void> {
        if (state_ == VmState::kNotStarted) return wrong_phase("pause", "the VM is not started");
        if (state_ == VmState::kPaused) return ok();
        EMBER_TRY(machine_->pause_vcpus());
        state_ = VmState::kPaused;
        return ok();
    });
}

Result<void> Vmm::resume() {
    return on_vmm_thread<Result<void>>([this]() -> Result<void> {
        if (state_ == VmState::kNotStarted) return wrong_phase("resume", "the VM is not started");
        if (state_ == VmState::kRunning) return ok();
        EMBER_TRY(machine_->resume_vcpus());
        state_ = VmState::kRunning;
        return ok();
    });
}

Result<void> Vmm::create_snapshot(const SnapshotCreateParams&) {
    return not_supported("PUT /snapshot/create");
}
Result<void> Vmm::load_snapshot(const SnapshotLoadParams&) {
    return not_supported("PUT /snapshot/load");
}

}  // namespace ember
