#include "vmm/core/vcpu_runner.h"

#include <linux/kvm.h>
#include <pthread.h>
#include <signal.h>

#include <algorithm>
#include <cstring>

#include <fmt/core.h>

namespace ember {
namespace {

// Its only job is to make KVM_RUN return EINTR; the state change travels through the runner.
void on_kick(int) {}

}  // namespace

int VcpuRunner::kick_signal() { return SIGRTMIN; }

VcpuRunner::VcpuRunner(kvm::RunnableVcpu& vcpu, const Bus& pio, const Bus& mmio,
                       const EventFd& exit_evt, Options options)
    : vcpu_(vcpu), pio_(pio), mmio_(mmio), exit_evt_(exit_evt), options_(options) {}

VcpuRunner::~VcpuRunner() { stop(); }

Result<void> VcpuRunner::start() {
    struct sigaction action {};
    action.sa_handler = on_kick;
    sigemptyset(&action.sa_mask);
    // No SA_RESTART: KVM_RUN must come back with EINTR.
    if (::sigaction(kick_signal(), &action, nullptr) < 0) return Error::from_errno("sigaction");
    {
        std::lock_guard lock(mu_);
        if (state_ != State::kNotStarted) return Error::invalid("vcpu start", "already started");
        state_ = options_.start_paused ? State::kPaused : State::kRunning;
        if (options_.start_paused) {
            // The loop parks before its first KVM_RUN; resume() may come before it gets there.
            request_ = Request::kPause;
            kicked_.store(true);
        }
    }
    thread_ = std::jthread([this] { loop(); });
    return ok();
}

void VcpuRunner::request(Request req) {
    {
        std::lock_guard lock(mu_);
        request_ = req;
    }
    // immediate_exit before kicked_: the thread clears the flag once it sees kicked_, so setting
    // it after would let it be set again behind the thread's back, and a running vCPU would then
    // get EINTR from every KVM_RUN with nothing left to clear it.
    vcpu_.set_immediate_exit(true);
    kicked_.store(true);
    // The thread may be inside KVM_RUN: the signal makes it return. If it is elsewhere, the
    // immediate_exit flag makes its next KVM_RUN return at once.
    if (thread_.joinable()) ::pthread_kill(thread_.native_handle(), kick_signal());
    cv_.notify_all();
}

Result<void> VcpuRunner::pause() {
    {
        std::lock_guard lock(mu_);
        if (state_ == State::kNotStarted || state_ == State::kExited) {
            return Error::invalid("vcpu pause", "the vCPU is not running");
        }
    }
    request(Request::kPause);
    std::unique_lock lock(mu_);
    cv_.wait(lock, [this] { return state_ == State::kPaused || state_ == State::kExited; });
    if (state_ == State::kExited) return Error::invalid("vcpu pause", "the vCPU exited");
    return ok();
}

Result<void> VcpuRunner::resume() {
    {
        std::lock_guard lock(mu_);
        if (state_ != State::kPaused)
            return Error::invalid("vcpu resume", "the vCPU is not paused");
    }
    request(Request::kRun);
    std::unique_lock lock(mu_);
    cv_.wait(lock, [this] { return state_ != State::kPaused; });
    return ok();
}

void VcpuRunner::stop() {
    if (!thread_.joinable()) return;
    request(Request::kStop);
    thread_.join();
}

VcpuRunner::State VcpuRunner::state() const {
    std::lock_guard lock(mu_);
    return state_;
}

VcpuRunner::Outcome VcpuRunner::outcome() const {
    std::lock_guard lock(mu_);
    return outcome_;
}

std::string VcpuRunner::error_message() const {
    std::lock_guard lock(mu_);
    return error_;
}

bool VcpuRunner::wait_while_paused() {
    std::unique_lock lock(mu_);
    kicked_.store(false);
    vcpu_.set_immediate_exit(false);
    if (request_ == Request::kPause) {
        // KVM finishes a port or MMIO access (and moves RIP past it) only on the next KVM_RUN:
        // enter once with immediate_exit set so that the paused state, which a snapshot saves,
        // is between instructions. KVM returns EINTR at once.
        vcpu_.set_immediate_exit(true);
        if (Result<kvm::VcpuExit> settled = vcpu_.run(); !settled) {
            EMBER_ERROR("vCPU {}: completing the last exit before pausing: {}", options_.index,
                        settled.error().message());
        }
        vcpu_.set_immediate_exit(false);
        state_ = State::kPaused;
        cv_.notify_all();
        cv_.wait(lock, [this] { return request_ != Request::kPause; });
        // The flag may have been set again by the resume request.
        kicked_.store(false);
        vcpu_.set_immediate_exit(false);
    }
    if (request_ == Request::kStop) return false;
    state_ = State::kRunning;
    cv_.notify_all();
    return true;
}

void VcpuRunner::finish(Outcome outcome, std::string message) {
    {
        std::lock_guard lock(mu_);
        state_ = State::kExited;
        outcome_ = outcome;
        error_ = std::move(message);
    }
    cv_.notify_all();
    if (outcome != Outcome::kNone) {
        // The VMM learns of it through its event loop.
        if (!exit_evt_.write(1)) EMBER_ERROR("vCPU {}: cannot signal its exit", options_.index);
    }
}

void VcpuRunner::loop() {
    log::set_thread_name(fmt::format("fc_vcpu {}", options_.index));
    // Before the guest can run a single instruction: from here on the guest drives this thread.
    if (options_.seccomp != nullptr) {
        if (Result<void> confined = install_bpf_program(*options_.seccomp, "vcpu"); !confined) {
            EMBER_ERROR("vCPU {}: {}", options_.index, confined.error().message());
            finish(Outcome::kError, confined.error().message());
            return;
        }
    }
    bool first = true;
    while (true) {
        if (kicked_.load() && !wait_while_paused()) {
            finish(Outcome::kNone, {});
            return;
        }
        if (first && options_.index == 0) {
            auto us = std::chrono::duration_cast<std::chrono::microseconds>(
                          std::chrono::steady_clock::now() - options_.launch)
                          .count();
            EMBER_INFO("First KVM_RUN of vCPU 0 at {} us after launch", us);
        }
        first = false;
        Result<kvm::VcpuExit> exit = vcpu_.run();
        run_count_.fetch_add(1, std::memory_order_relaxed);
        if (!exit) {
            EMBER_ERROR("vCPU {}: {}", options_.index, exit.error().message());
            finish(Outcome::kError, exit.error().message());
            return;
        }
        if (!handle(*exit)) return;
    }
}

bool VcpuRunner::handle(const kvm::VcpuExit& exit) {
    using Kind = kvm::VcpuExit::Kind;
    switch (exit.kind) {
        case Kind::kIoIn:
            // String instructions carry `count` accesses of `size` bytes each.
            for (uint32_t i = 0; i < exit.count; ++i) {
                auto chunk = exit.data.subspan(size_t{i} * exit.size, exit.size);
                // Nothing decodes this port: reads float high, as on real hardware.
                if (!pio_.read(exit.address, chunk)) std::fill(chunk.begin(), chunk.end(), 0xff);
            }
            return true;
        case Kind::kIoOut:
            for (uint32_t i = 0; i < exit.count; ++i) {
                pio_.write(exit.address, exit.data.subspan(size_t{i} * exit.size, exit.size));
            }
            return true;
        case Kind::kMmioRead:
            if (!mmio_.read(exit.address, exit.data)) {
                std::fill(exit.data.begin(), exit.data.end(), 0);
                EMBER_LOG_LIMITED(unhandled_log_, log::Level::kDebug,
                                  "vCPU {}: MMIO read of {:#x} outside any device", options_.index,
                                  exit.address);
            }
            return true;
        case Kind::kMmioWrite:
            if (!mmio_.write(exit.address, exit.data)) {
                EMBER_LOG_LIMITED(unhandled_log_, log::Level::kDebug,
                                  "vCPU {}: MMIO write to {:#x} outside any device", options_.index,
                                  exit.address);
            }
            return true;
        case Kind::kInterrupted: return true;
        case Kind::kHlt:
            // With the in-kernel irqchip HLT stays in KVM; an exit means the guest is done.
            EMBER_INFO("vCPU {}: KVM_EXIT_HLT", options_.index);
            finish(Outcome::kGuestShutdown, {});
            return false;
        case Kind::kShutdown:
            EMBER_INFO("vCPU {}: KVM_EXIT_SHUTDOWN (triple fault or reset) at {}", options_.index,
                       vcpu_.describe_state());
            finish(Outcome::kGuestShutdown, {});
            return false;
        case Kind::kSystemEvent:
            if (exit.code == KVM_SYSTEM_EVENT_SHUTDOWN || exit.code == KVM_SYSTEM_EVENT_RESET) {
                EMBER_INFO("vCPU {}: system event {}", options_.index, exit.code);
                finish(Outcome::kGuestShutdown, {});
            } else if (exit.code == KVM_SYSTEM_EVENT_CRASH) {
                finish(Outcome::kGuestCrash, "the guest reported a crash");
            } else {
                finish(Outcome::kError, fmt::format("unexpected system event {}", exit.code));
            }
            return false;
        case Kind::kInternalError:
            EMBER_ERROR("vCPU {}: KVM internal error, suberror {}", options_.index, exit.code);
            finish(Outcome::kError, fmt::format("KVM internal error, suberror {}", exit.code));
            return false;
        case Kind::kFailEntry:
            EMBER_ERROR("vCPU {}: VM entry failed, reason {:#x}", options_.index, exit.code);
            finish(Outcome::kError, fmt::format("VM entry failed, reason {:#x}", exit.code));
            return false;
        case Kind::kUnknown:
            EMBER_ERROR("vCPU {}: unexpected KVM exit {}", options_.index, exit.code);
            finish(Outcome::kError, fmt::format("unexpected KVM exit {}", exit.code));
            return false;
    }
    return true;
}

}  // namespace ember
