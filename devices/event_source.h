// EventSource: an fd a device wants watched on the vmm thread's event loop, and what to do when it
// is ready (Firecracker's per-device event handler). A device declares its sources; the device
// manager registers them without knowing the device, and for a virtio device runs each handler
// with the transport's mutex held.
// Thread: handlers run on the vmm thread.
#pragma once

#include <sys/epoll.h>

#include <cstdint>
#include <functional>
#include <utility>

namespace ember {

struct EventSource {
    // What the handler asks of the loop afterwards: a source at end of file stops being watched,
    // or epoll would report it forever.
    enum class Next { kKeepWatching, kStopWatching };
    using Handler = std::function<Next()>;

    int fd = -1;  // Owned by the device, open for as long as the device lives.
    uint32_t events = EPOLLIN;
    Handler handler;

    // A source watched for as long as its device lives.
    template <typename F>
    static EventSource always(int fd, F run, uint32_t events = EPOLLIN) {
        return EventSource{fd, events, [run = std::move(run)] {
                               run();
                               return Next::kKeepWatching;
                           }};
    }
};

}  // namespace ember
