#include "vmm/base/epoll.h"

#include <cerrno>

namespace ember {

Result<Epoll> Epoll::create() {
    int fd = ::epoll_create1(EPOLL_CLOEXEC);
    if (fd < 0) return Error::from_errno("epoll_create1");
    return Epoll(UniqueFd(fd));
}

Result<void> Epoll::add(int fd, uint32_t events, uint64_t token) {
    epoll_event ev{.events = events, .data = {.u64 = token}};
    if (::epoll_ctl(fd_.get(), EPOLL_CTL_ADD, fd, &ev) < 0)
        return Error::from_errno("epoll_ctl add");
    return ok();
}

Result<void> Epoll::modify(int fd, uint32_t events, uint64_t token) {
    epoll_event ev{.events = events, .data = {.u64 = token}};
    if (::epoll_ctl(fd_.get(), EPOLL_CTL_MOD, fd, &ev) < 0)
        return Error::from_errno("epoll_ctl mod");
    return ok();
}

Result<void> Epoll::remove(int fd) {
    if (::epoll_ctl(fd_.get(), EPOLL_CTL_DEL, fd, nullptr) < 0) {
        return Error::from_errno("epoll_ctl del");
    }
    return ok();
}

Result<std::span<epoll_event>> Epoll::wait(std::span<epoll_event> out, int timeout_ms) {
    int n = ::epoll_wait(fd_.get(), out.data(), static_cast<int>(out.size()), timeout_ms);
    if (n < 0) {
        if (errno == EINTR) return out.first(0);
        return Error::from_errno("epoll_wait");
    }
    return out.first(static_cast<size_t>(n));
}

}  // namespace ember
