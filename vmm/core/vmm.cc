#include "vmm/core/vmm.h"

#include <chrono>
#include <optional>

#include "vmm/base/log.h"

namespace ember {

Result<std::unique_ptr<Vmm>> Vmm::create(Options options) {
    EventLoop loop = EMBER_TRY(EventLoop::create());
    EventFd task_evt = EMBER_TRY(EventFd::create());
    EventFd exit_evt = EMBER_TRY(EventFd::create());
    TimerFd metrics_timer = EMBER_TRY(TimerFd::create());
    std::unique_ptr<Vmm> vmm(new Vmm(std::move(options), std::move(loop), std::move(task_evt),
                                     std::move(exit_evt), std::move(metrics_timer)));
    Vmm* self = vmm.get();
    EMBER_TRY(vmm->loop_.add(vmm->task_evt_.fd(), [self](uint32_t) { self->run_queued_tasks(); }));
    EMBER_TRY(vmm->loop_.add(vmm->exit_evt_.fd(), [self](uint32_t) {
        (void)self->exit_evt_.read();
        self->loop_.request_stop();
    }));
    EMBER_TRY(vmm->loop_.add(vmm->metrics_timer_.fd(), [self](uint32_t) {
        self->on_metrics_timer();
    }));
    return vmm;
}

Result<void> Vmm::exit_on(ExitSignals signals) {
    exit_signals_ = std::move(signals);
    return loop_.add(exit_signals_->fd(), [this](uint32_t) {
        Result<int> signo = exit_signals_->read();
        if (!signo) return;
        EMBER_INFO("Vmm is stopping: signal {}", *signo);
        request_exit(exit_code_for_signal(*signo));
    });
}

Vmm::Vmm(Options options, EventLoop loop, EventFd task_evt, EventFd exit_evt,
         TimerFd metrics_timer)
    : options_(std::move(options)),
      loop_(std::move(loop)),
      task_evt_(std::move(task_evt)),
      exit_evt_(std::move(exit_evt)),
      vmm_thread_(std::this_thread::get_id()),
      metrics_timer_(std::move(metrics_timer)) {}

Vmm::~Vmm() {
    if (machine_) machine_->stop_vcpus();
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
    // The caller names the thread ("firecracker" in main): with --config-file the VM, and with
    // it this thread's seccomp filter, is already up here, and the filter forbids prctl.
    Result<void> ran = loop_.run();
    if (!ran) {
        EMBER_ERROR("event loop failed: {}", ran.error().message());
        request_exit(kExitGeneric);
    }
    // Tasks still queued get an answer instead of blocking their callers forever.
    run_queued_tasks();
    if (machine_) machine_->stop_vcpus();
    // As Firecracker's Vmm::stop: the last counters reach the metrics file.
    if (metrics_) (void)write_metrics();
    std::deque<std::function<void()>> late;
    {
        std::lock_guard lock(tasks_mu_);
        loop_done_ = true;
        late.swap(tasks_);
    }
    for (auto& task : late) task();
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

Result<void> Vmm::set_boot_source(const BootSourceConfig& config) {
    return on_vmm_thread<Result<void>>([&]() -> Result<void> {
        EMBER_TRY(check_phase(state_, kBeforeBoot, "PUT /boot-source"));
        EMBER_TRY(config.validate());
        config_.boot_source = config;
        configured_ = true;
        return ok();
    });
}

Result<void> Vmm::set_machine_config(const MachineConfig& config) {
    return on_vmm_thread<Result<void>>([&]() -> Result<void> {
        EMBER_TRY(check_phase(state_, kBeforeBoot, "PUT /machine-config"));
        EMBER_TRY(config.validate());
        config_.machine = config;
        configured_ = true;
        return ok();
    });
}

Result<void> Vmm::configure(const VmConfig& config) {
    return on_vmm_thread<Result<void>>([&]() -> Result<void> {
        EMBER_TRY(check_phase(state_, kBeforeBoot, "configure VM"));
        EMBER_TRY(config.validate());
        // As Firecracker's build_microvm_from_json: the file's logger and metrics apply at once.
        if (config.logger) EMBER_TRY(apply_logger(*config.logger));
        if (config.metrics && config.metrics != config_.metrics) {
            EMBER_TRY(apply_metrics(*config.metrics));
        }
        std::optional<MetricsConfig> metrics = config_.metrics;
        config_ = config;
        if (!config_.metrics) config_.metrics = metrics;  // Set by --metrics-path.
        configured_ = true;
        return ok();
    });
}


Result<void> Vmm::set_serial(const SerialConfig& config) {
    return on_vmm_thread<Result<void>>([&]() -> Result<void> {
        EMBER_TRY(check_phase(state_, kBeforeBoot, "PUT /serial"));
        config_.serial = config;
        configured_ = true;
        return ok();
    });
}

Result<void> Vmm::do_start() {
    EMBER_TRY(check_phase(state_, kBeforeBoot, "InstanceStart"));
    if (loop_.stop_requested()) {
        return Error::wrong_phase("InstanceStart", "the VMM is shutting down");
    }
    BuildOptions build;
    build.boot_timer = options_.boot_timer;
    build.start = options_.boot_timer_start.value_or(BootTimer::StartTime::now());
    build.kvm_path = options_.kvm_path;
    build.console_input_fd = options_.console_input_fd;
    machine_ = EMBER_TRY(build_machine(config_, build, loop_));
    EMBER_TRY(launch_machine(/*paused=*/false));
    state_ = VmState::kRunning;
    return ok();
}

Result<void> Vmm::launch_machine(bool paused) {
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
    const SeccompFilters* seccomp = options_.seccomp;
    EMBER_TRY(machine->start_vcpus(options_.launch,
                                   seccomp ? &seccomp->program(ThreadKind::kVcpu) : nullptr,
                                   paused));
    // As Firecracker: the vmm thread confines itself once the VM is built, because building
    // opens files and devices that its allowlist does not need afterwards; from now on it
    // handles guest-driven device events.
    if (seccomp) EMBER_TRY(seccomp->install(ThreadKind::kVmm));
    return ok();
}

void Vmm::discard_machine() {
    if (!machine_) return;
    machine_->stop_vcpus();
    (void)loop_.remove(machine_->reset_evt.fd());
    (void)loop_.remove(machine_->vcpu_exit_evt.fd());
    machine_.reset();
}

Result<void> Vmm::start() {
    return on_vmm_thread<Result<void>>([this]() -> Result<void> {
        EMBER_TRY(check_phase(state_, kBeforeBoot, "InstanceStart"));
        Result<void> started = do_start();
        if (started) return ok();
        // A half-built VM cannot be started again: drop it so that the fds are released.
        discard_machine();
        // The API answers 400 with this; the process keeps serving (e.g. without /dev/kvm).
        return Error::invalid("InstanceStart failed", started.error().message())
            .with_kind(started.error().kind());
    });
}

Result<void> Vmm::send_ctrl_alt_del() {
    return on_vmm_thread<Result<void>>([this]() -> Result<void> {
        EMBER_TRY(check_phase(state_, kStarted, "SendCtrlAltDel"));
        I8042* i8042 = machine_->devices.i8042();
        std::lock_guard lock(i8042->mutex());
        return i8042->send_ctrl_alt_del();
    });
}


Result<void> Vmm::pause() {
    return on_vmm_thread<Result<void>>([this]() -> Result<void> {
        EMBER_TRY(check_phase(state_, kStarted, "pause"));
        if (state_ == VmState::kPaused) return ok();
        auto begin = std::chrono::steady_clock::now();
        EMBER_TRY(machine_->pause_vcpus());
        state_ = VmState::kPaused;
        counters_.pause_vm_us = elapsed_us(begin);
        return ok();
    });
}

Result<void> Vmm::resume() {
    return on_vmm_thread<Result<void>>([this]() -> Result<void> {
        EMBER_TRY(check_phase(state_, kStarted, "resume"));
        if (state_ == VmState::kRunning) return ok();
        auto begin = std::chrono::steady_clock::now();
        EMBER_TRY(machine_->resume_vcpus());
        state_ = VmState::kRunning;
        counters_.resume_vm_us = elapsed_us(begin);
        return ok();
    });
}

}  // namespace ember
