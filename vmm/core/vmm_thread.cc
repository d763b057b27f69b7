#include "vmm/core/vmm_thread.h"

namespace ember {

Result<std::unique_ptr<VmmThread>> VmmThread::create() {
    EventLoop loop = EMBER_TRY(EventLoop::create());
    EventFd task_evt = EMBER_TRY(EventFd::create());
    EventFd exit_evt = EMBER_TRY(EventFd::create());
    std::unique_ptr<VmmThread> thread(
        new VmmThread(std::move(loop), std::move(task_evt), std::move(exit_evt)));
    VmmThread* self = thread.get();
    EMBER_TRY(
        self->loop_.add(self->task_evt_.fd(), [self](uint32_t) { self->run_queued_tasks(); }));
    EMBER_TRY(self->loop_.add(self->exit_evt_.fd(), [self](uint32_t) {
        (void)self->exit_evt_.read();
        self->loop_.request_stop();
    }));
    return thread;
}

VmmThread::VmmThread(EventLoop loop, EventFd task_evt, EventFd exit_evt)
    : loop_(std::move(loop)),
      task_evt_(std::move(task_evt)),
      exit_evt_(std::move(exit_evt)),
      vmm_thread_(std::this_thread::get_id()) {}

void VmmThread::run_queued_tasks() {
    (void)task_evt_.read();
    std::deque<std::function<void()>> batch;
    {
        std::lock_guard lock(tasks_mu_);
        batch.swap(tasks_);
    }
    for (auto& task : batch) task();
}

int VmmThread::run(const std::function<void()>& at_stop) {
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
    at_stop();
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

void VmmThread::request_exit(int code) {
    {
        std::lock_guard lock(exit_mu_);
        exit_code_ = code;
    }
    if (!exit_evt_.write(1)) EMBER_ERROR("cannot signal the vmm thread to exit");
}

}  // namespace ember
