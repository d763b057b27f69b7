// Epoll: an owned epoll instance. Registrations carry a 64-bit token chosen by the caller.
#pragma once

#include <sys/epoll.h>

#include <cstdint>
#include <span>

#include "vmm/base/result.h"
#include "vmm/base/unique_fd.h"

namespace ember {

class Epoll {
public:
    static Result<Epoll> create();

    Result<void> add(int fd, uint32_t events, uint64_t token);
    Result<void> modify(int fd, uint32_t events, uint64_t token);
    Result<void> remove(int fd);
    // Waits up to timeout_ms (-1: forever); returns the ready events, EINTR as zero events.
    Result<std::span<epoll_event>> wait(std::span<epoll_event> out, int timeout_ms);

    int fd() const { return fd_.get(); }

private:
    explicit Epoll(UniqueFd fd) : fd_(std::move(fd)) {}
    UniqueFd fd_;
};

}  // namespace ember
