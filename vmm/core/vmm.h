// Vmm: one microVM. Owns the vmm thread's event loop and, once started, the Machine; implements
// VmmController. Calls from another thread (the API server) are queued to the vmm thread and
// block until it has run them, so VM state is only ever touched there.
// Thread: run() is the vmm thread; the controller methods may be called from any thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "vmm/base/event_fd.h"
#include "vmm/base/result.h"
#include "vmm/core/builder.h"
#include "vmm/core/event_loop.h"
#include "vmm/core/machine.h"
#include "vmm/core/vmm_controller.h"

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
    };

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

    // The running machine, for tests; null before start. Thread: vmm.
    Machine* machine() { return machine_.get(); }

private:
    Vmm(Options options, EventLoop loop, EventFd task_evt, EventFd exit_evt);

    // Runs `task` on the vmm thread and returns its result.
    template <typename T>
    T on_vmm_thread(std::function<T()> task);
    void run_queued_tasks();
    Result<void> require_not_started(const char* what) const;
    Result<void> do_start();
    void on_vcpu_exit();

    Options options_;
    EventLoop loop_;
    EventFd task_evt_;
    EventFd exit_evt_;  // request_exit() from any thread.
    std::thread::id vmm_thread_;

    std::mutex tasks_mu_;
    std::deque<std::function<void()>> tasks_;  // Guarded by tasks_mu_.

    // vmm thread only.
    VmConfig config_;
    VmState state_ = VmState::kNotStarted;
    std::unique_ptr<Machine> machine_;
    bool resetting_ = false;
    std::mutex exit_mu_;
    int exit_code_ = kExitOk;  // Guarded by exit_mu_.
};

}  // namespace ember
