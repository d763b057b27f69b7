#include "vmm/base/timer_fd.h"

#include <sys/timerfd.h>
#include <unistd.h>

namespace ember {

Result<TimerFd> TimerFd::create() {
    int fd = ::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (fd < 0) return Error::from_errno("timerfd_create");
    return TimerFd(UniqueFd(fd));
}

Result<void> TimerFd::arm_oneshot(std::chrono::nanoseconds delay) {
    int64_t ns = delay.count() > 0 ? delay.count() : 1;
    itimerspec spec{};
    spec.it_value.tv_sec = static_cast<time_t>(ns / 1'000'000'000);
    spec.it_value.tv_nsec = static_cast<long>(ns % 1'000'000'000);
    if (::timerfd_settime(fd_.get(), 0, &spec, nullptr) != 0) {
        return Error::from_errno("timerfd_settime");
    }
    return ok();
}

Result<void> TimerFd::disarm() {
    itimerspec spec{};
    if (::timerfd_settime(fd_.get(), 0, &spec, nullptr) != 0) {
        return Error::from_errno("timerfd_settime");
    }
    return ok();
}

Result<uint64_t> TimerFd::read() const {
    uint64_t expirations = 0;
    if (::read(fd_.get(), &expirations, sizeof(expirations)) != sizeof(expirations)) {
        if (errno == EAGAIN) return uint64_t{0};
        return Error::from_errno("timerfd read");
    }
    return expirations;
}

}  // namespace ember
