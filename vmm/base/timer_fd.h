// TimerFd: an owned CLOCK_MONOTONIC timerfd, non-blocking and close-on-exec; rate limiters arm
// it to resume a throttled queue, and the event loop watches fd() for EPOLLIN.
#pragma once

#include <chrono>
#include <cstdint>

#include "vmm/base/result.h"
#include "vmm/base/unique_fd.h"

namespace ember {

class TimerFd {
public:
    static Result<TimerFd> create();

    // Fires once after `delay` (a zero delay is rounded up to 1 ns: zero would disarm).
    Result<void> arm_oneshot(std::chrono::nanoseconds delay);
    Result<void> disarm();
    // Expirations since the last read; zero when the timer has not fired (EAGAIN).
    Result<uint64_t> read() const;

    int fd() const { return fd_.get(); }

private:
    explicit TimerFd(UniqueFd fd) : fd_(std::move(fd)) {}
    UniqueFd fd_;
};

}  // namespace ember
