// Vmm: one microVM. Owns the vmm thread's event loop and, once started, the Machine; implements
// VmmController. Calls from another thread (the API server) are queued to the vmm thread and
// block until it has run them, so VM state is only ever touched there.
// Thread: run() is the vmm thread; the controller methods may be called from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "vmm/base/metrics_writer.h"
#include "vmm/base/event_fd.h"
#include "vmm/base/log.h"
#include "vmm/base/result.h"
#include "vmm/base/seccomp_filter.h"
#include "vmm/base/terminal.h"
#include "vmm/base/timer_fd.h"
#include "vmm/core/builder.h"
#include "vmm/core/event_loop.h"
#include "vmm/core/machine.h"
#include "vmm/core/vm_phase.h"
#include "vmm/config/vmm_controller.h"

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
    };

    // Adds metric groups to each metrics line (the API's request counters, per-device groups).
    // Called on the vmm thread at every flush. Thread: register before run().
    using MetricsSource = std::function<void(std::vector<MetricGroup>& groups)>;

    // Exit codes as Firecracker's (vmm/src/lib.rs).
    static constexpr int kExitOk = 0;
    static constexpr int kExitGeneric = 1;

    static Result<std::unique_ptr<Vmm>> create(Options options);
    ~Vmm() override;

    // Runs the event loop on the calling thread (which becomes the vmm thread) until the guest
    // resets or powers off (kExitOk), a vCPU fails (kExitGeneric) or request_exit() is called.
    int run();
    // Thread: any. Ends run() with `code`.
    void request_exit(int code);

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
    Result<void> start() override;
    Result<void> send_ctrl_alt_del() override;
    Result<void> flush_metrics() override;
    Result<void> patch_drive(const DriveUpdate& update) override;
    Result<void> patch_net(const NetUpdate& update) override;
    Result<void> pause() override;
    Result<void> resume() override;
    Result<void> create_snapshot(const SnapshotCreateParams& params) override;
    Result<void> load_snapshot(const SnapshotLoadParams& params) override;

    // Replaces the whole pre-boot configuration (the --config-file path). Thread: any.
    Result<void> configure(const VmConfig& config);

    // Ends run() with exit_code_for_signal(signo) when one of `signals` arrives, so that the
    // normal return path (and the console terminal's restore) runs. Thread: before run().
    Result<void> exit_on(ExitSignals signals);

    // The running machine, for tests; null before start. Thread: vmm.
    Machine* machine() { return machine_.get(); }

    void add_metrics_source(MetricsSource source) { metrics_sources_.push_back(std::move(source)); }

private:
    Vmm(Options options, EventLoop loop, EventFd task_evt, EventFd exit_evt,
        TimerFd metrics_timer);

    // Runs `task` on the vmm thread and returns its result.
    template <typename T>
    T on_vmm_thread(std::function<T()> task);
    void run_queued_tasks();
    Result<void> do_start();
    // Watches machine_'s reset and vCPU-exit events, starts its vCPUs (parked with `paused`)
    // and confines the vmm thread.
    Result<void> launch_machine(bool paused);
    // Drops a machine that failed to start or load, releasing its fds.
    void discard_machine();
    void on_vcpu_exit();
    Result<void> do_load_snapshot(const SnapshotLoadParams& params);

    // Logger and metrics (vmm_metrics.cc). Thread: vmm.
    Result<void> apply_logger(const LoggerConfig& config);
    Result<void> apply_metrics(const MetricsConfig& config);
    std::vector<MetricGroup> collect_metrics();
    Result<void> write_metrics();
    void on_metrics_timer();

    Options options_;
    EventLoop loop_;
    EventFd task_evt_;
    EventFd exit_evt_;  // request_exit() from any thread.
    std::atomic<std::thread::id> vmm_thread_;

    std::mutex tasks_mu_;
    std::deque<std::function<void()>> tasks_;  // Guarded by tasks_mu_.
    // Set once run() has returned: later calls run on their caller. Guarded by tasks_mu_.
    bool loop_done_ = false;

    // vmm thread only.
    VmConfig config_;
    VmState state_ = VmState::kNotStarted;
    // A pre-boot setting other than logger and metrics was made: a snapshot load is refused.
    bool configured_ = false;
    std::unique_ptr<Machine> machine_;
    bool resetting_ = false;
    TimerFd metrics_timer_;
    std::optional<MetricsWriter> metrics_;
    std::optional<ExitSignals> exit_signals_;
    std::vector<MetricsSource> metrics_sources_;
    struct {
        uint64_t pause_vm_us = 0;   // Last pause, latencies_us.pause_vm.
        uint64_t resume_vm_us = 0;  // Last resume, latencies_us.resume_vm.
        uint64_t full_create_snapshot_us = 0;  // latencies_us, as Firecracker's names.
        uint64_t diff_create_snapshot_us = 0;
        uint64_t load_snapshot_us = 0;
        uint64_t metrics_fails = 0;
        uint64_t log_fails = 0;
    } counters_;
    std::mutex exit_mu_;
    int exit_code_ = kExitOk;  // Guarded by exit_mu_.
};

// Shared by the controller methods split over vmm*.cc.
inline uint64_t elapsed_us(std::chrono::steady_clock::time_point begin) {
    return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                     std::chrono::steady_clock::now() - begin)
                                     .count());
}

// Defined here so that the controller methods split over vmm*.cc can all use it.
template <typename T>
T Vmm::on_vmm_thread(std::function<T()> task) {
    if (std::this_thread::get_id() == vmm_thread_.load()) return task();
    std::mutex mu;
    std::condition_variable cv;
    std::optional<T> result;
    {
        std::unique_lock lock(tasks_mu_);
        // The vmm thread has left its loop (the VM is over): nobody else touches the state now.
        if (loop_done_) {
            lock.unlock();
            return task();
        }
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

}  // namespace ember
