#include "vmm/core/event_loop.h"

#include <array>

namespace ember {

Result<EventLoop> EventLoop::create() {
    Epoll epoll = EMBER_TRY(Epoll::create());
    return EventLoop(std::move(epoll));
}

Result<void> EventLoop::add(int fd, Handler handler, uint32_t events) {
    if (handlers_.count(fd)) return Error::invalid("event loop add", "fd already watched");
    EMBER_TRY(epoll_.add(fd, events, static_cast<uint64_t>(fd)));
    handlers_.emplace(fd, std::make_shared<Handler>(std::move(handler)));
    return ok();
}

Result<void> EventLoop::remove(int fd) {
    if (handlers_.erase(fd) == 0) return Error::invalid("event loop remove", "fd not watched");
    return epoll_.remove(fd);
}

Result<size_t> EventLoop::step(int timeout_ms) {
    std::array<epoll_event, 32> events{};
    std::span<epoll_event> ready = EMBER_TRY(epoll_.wait(events, timeout_ms));
    size_t ran = 0;
    for (const epoll_event& ev : ready) {
        int fd = static_cast<int>(ev.data.u64);
        auto it = handlers_.find(fd);
        // Removed by an earlier handler in this batch.
        if (it == handlers_.end()) continue;
        std::shared_ptr<Handler> handler = it->second;
        (*handler)(ev.events);
        ++ran;
    }
    return ran;
}

Result<void> EventLoop::run() {
    while (!stop_) EMBER_TRY(step(-1));
    return ok();
}

}  // namespace ember
