// UringBackend: the io_uring engine (Firecracker's `Async`): a ring of 128 entries, the backing
// file registered as fixed file 0, and the device's completion eventfd registered with the ring,
// readable when completions arrive; the event loop watches it and calls the device.
// Thread: the vmm thread.
#pragma once

#include <liburing.h>

#include "devices/virtio/block/backend.h"
#include "vmm/base/event_fd.h"

namespace ember::virtio {

class UringBackend final : public BlockBackend {
public:
    static constexpr unsigned kEntries = 128;

    // `completions` must outlive the backend (the device owns it, and keeps it across backends).
    static Result<std::unique_ptr<UringBackend>> create(UniqueFd fd, const EventFd& completions);
    ~UringBackend() override;
    UringBackend(const UringBackend&) = delete;
    UringBackend& operator=(const UringBackend&) = delete;

    Result<void> submit(const BlockOp& op) override;
    Result<void> kick() override;
    void reap(std::vector<BlockCompletion>& out) override;
    Result<void> drain() override;
    size_t max_in_flight() const override { return kEntries; }
    BlockEngine engine() const override { return BlockEngine::kIoUring; }

private:
    UringBackend(UniqueFd fd, const EventFd& event) : fd_(std::move(fd)), event_(event) {}
    void collect(io_uring_cqe* cqe);

    UniqueFd fd_;
    const EventFd& event_;
    io_uring ring_{};
    bool ring_ready_ = false;
    size_t in_flight_ = 0;  // Submitted and not yet collected.
    std::vector<BlockCompletion> done_;
};

}  // namespace ember::virtio
