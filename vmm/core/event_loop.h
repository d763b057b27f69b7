// EventLoop: the vmm thread's epoll loop. Each registered fd has a handler, called on the vmm
// thread with the ready events; step() waits once, so tests drive it without sleeping.
// Thread: the vmm thread only (add/remove may also be called from inside a handler).
#pragma once

#include <sys/epoll.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <unordered_map>

#include "vmm/base/epoll.h"
#include "vmm/base/result.h"

namespace ember {

class EventLoop {
public:
    using Handler = std::function<void(uint32_t events)>;

    static Result<EventLoop> create();

    // Watches `fd` for `events` (EPOLLIN by default); the caller keeps the fd open until remove().
    Result<void> add(int fd, Handler handler, uint32_t events = EPOLLIN);
    Result<void> remove(int fd);

    // Waits up to timeout_ms (-1: forever) and dispatches what is ready; returns how many handlers
    // ran.
    Result<size_t> step(int timeout_ms);
    // Steps until request_stop() is called from a handler.
    Result<void> run();
    void request_stop() { stop_ = true; }
    bool stop_requested() const { return stop_; }

    size_t watched() const { return handlers_.size(); }

private:
    explicit EventLoop(Epoll epoll) : epoll_(std::move(epoll)) {}

    Epoll epoll_;
    // Shared so that a handler removing itself (or another) mid-dispatch stays alive until it
    // returns.
    std::unordered_map<int, std::shared_ptr<Handler>> handlers_;
    bool stop_ = false;
};

}  // namespace ember
