// VmmThread: the vmm thread's event loop and the queue through which other threads (the API
// server, main) run calls on it. A queued call blocks its caller until the vmm thread has run it,
// so VM state is only ever touched there. Any thread may end run() with an exit code.
// Thread: run() is the vmm thread; call() and request_exit() may be called from any thread.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include "vmm/base/event_fd.h"
#include "vmm/base/log.h"
#include "vmm/base/result.h"
#include "vmm/core/event_loop.h"

namespace ember {

class VmmThread {
public:
    // Exit codes as Firecracker's (vmm/src/lib.rs).
    static constexpr int kExitOk = 0;
    static constexpr int kExitGeneric = 1;

    static Result<std::unique_ptr<VmmThread>> create();

    // Thread: vmm.
    EventLoop& loop() { return loop_; }
    // run() is ending or has ended: nothing new may start.
    bool stopping() const { return loop_.stop_requested(); }

    // Runs `task` on the vmm thread and returns its result; runs it on the caller once run()
    // has returned (nobody else touches the state then). Thread: any.
    template <typename T>
    T call(std::function<T()> task);

    // Runs the event loop on the calling thread (which becomes the vmm thread) until
    // request_exit(); then answers the calls still queued, runs `at_stop` and returns the code.
    int run(const std::function<void()>& at_stop);
    // Thread: any. Ends run() with `code`.
    void request_exit(int code);

private:
    VmmThread(EventLoop loop, EventFd task_evt, EventFd exit_evt);
    void run_queued_tasks();

    EventLoop loop_;
    EventFd task_evt_;
    EventFd exit_evt_;
    std::atomic<std::thread::id> vmm_thread_;

    std::mutex tasks_mu_;
    std::deque<std::function<void()>> tasks_;  // Guarded by tasks_mu_.
    // Set once run() has returned: later calls run on their caller. Guarded by tasks_mu_.
    bool loop_done_ = false;

    std::mutex exit_mu_;
    int exit_code_ = kExitOk;  // Guarded by exit_mu_.
};

template <typename T>
T VmmThread::call(std::function<T()> task) {
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
