// VcpuRunner: the thread of one vCPU ("fc_vcpu N"). It loops on KVM_RUN, sends port I/O and MMIO
// exits to the buses, and obeys run/pause/stop requests from the vmm thread. A request kicks the
// thread out of KVM_RUN with kvm_run->immediate_exit plus a SIGRTMIN whose handler is empty.
// Thread: the public methods are called by the vmm thread; the loop runs on its own jthread.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>

#include "vmm/base/event_fd.h"
#include "vmm/base/log.h"
#include "vmm/base/result.h"
#include "vmm/base/seccomp_filter.h"
#include "vmm/core/bus.h"
#include "vmm/kvm/vcpu_exit.h"

namespace ember {

class VcpuRunner {
public:
    enum class State { kNotStarted, kRunning, kPaused, kExited };
    // Why the thread ended.
    enum class Outcome {
        kNone,           // Still running, or stopped by the VMM.
        kGuestShutdown,  // Reset or power-off from the guest: a clean exit.
        kGuestCrash,     // KVM_SYSTEM_EVENT_CRASH.
        kError,          // A failed KVM_RUN or an exit KVM could not handle.
    };

    struct Options {
        uint32_t index = 0;
        // Start of the process or of VM construction, for the first-KVM_RUN log line.
        std::chrono::steady_clock::time_point launch = std::chrono::steady_clock::now();
        // Installed by the thread on itself before its first KVM_RUN; null or empty: none.
        const BpfProgram* seccomp = nullptr;
        // Start parked, as pause() leaves it (a snapshot loaded without resume_vm).
        bool start_paused = false;
    };

    // `vcpu`, the buses and `exit_evt` must outlive the runner. `exit_evt` is written when the
    // thread ends by itself (guest shutdown or error).
    VcpuRunner(kvm::RunnableVcpu& vcpu, const Bus& pio, const Bus& mmio, const EventFd& exit_evt,
               Options options);
    ~VcpuRunner();
    VcpuRunner(const VcpuRunner&) = delete;
    VcpuRunner& operator=(const VcpuRunner&) = delete;

    // Installs the kick signal handler (idempotent) and starts the thread in the running state,
    // or paused with Options::start_paused.
    Result<void> start();
    // Returns once the thread is parked outside KVM_RUN; an error if it already exited.
    Result<void> pause();
    Result<void> resume();
    // Stops and joins the thread; safe to call in any state, more than once.
    void stop();

    State state() const;
    Outcome outcome() const;
    // What went wrong, for kError and kGuestCrash.
    std::string error_message() const;
    // Completed KVM_RUN calls, for tests and metrics.
    uint64_t run_count() const { return run_count_.load(std::memory_order_relaxed); }

    // The real-time signal used for kicks (SIGRTMIN).
    static int kick_signal();

private:
    enum class Request { kRun, kPause, kStop };

    void loop();
    // Handles one exit; false when the thread must end with `outcome`.
    bool handle(const kvm::VcpuExit& exit);
    void finish(Outcome outcome, std::string message);
    void request(Request request);
    // Parks while a pause is requested; false when a stop was requested.
    bool wait_while_paused();

    kvm::RunnableVcpu& vcpu_;
    const Bus& pio_;
    const Bus& mmio_;
    const EventFd& exit_evt_;
    Options options_;

    mutable std::mutex mu_;
    std::condition_variable cv_;
    Request request_ = Request::kRun;   // Guarded by mu_.
    State state_ = State::kNotStarted;  // Guarded by mu_.
    Outcome outcome_ = Outcome::kNone;  // Guarded by mu_.
    std::string error_;                 // Guarded by mu_.
    std::atomic<bool> kicked_{false};   // A request is pending; checked on every exit.
    std::atomic<uint64_t> run_count_{0};
    log::LineLimiter unhandled_log_;  // vCPU thread only.
    std::jthread thread_;
};

}  // namespace ember
