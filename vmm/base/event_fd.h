// EventFd: an owned eventfd, used for wakeups between threads and for KVM irqfd/ioeventfd.
#pragma once

#include <cstdint>

#include "vmm/base/result.h"
#include "vmm/base/unique_fd.h"

namespace ember {

class EventFd {
public:
    // Non-blocking and close-on-exec.
    static Result<EventFd> create(unsigned initial = 0);

    // Thread: any.
    Result<void> write(uint64_t value = 1) const;
    // Returns the counter and resets it; an error with EAGAIN when it was zero.
    Result<uint64_t> read() const;

    int fd() const { return fd_.get(); }

private:
    explicit EventFd(UniqueFd fd) : fd_(std::move(fd)) {}
    UniqueFd fd_;
};

}  // namespace ember
