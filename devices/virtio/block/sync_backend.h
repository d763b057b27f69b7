// SyncBackend: blocking preadv/pwritev/fdatasync/fallocate on the vmm thread, Firecracker's
// default `Sync` engine. Every op has completed when submit() returns.
// Thread: the vmm thread.
#pragma once

#include "devices/virtio/block/backend.h"

namespace ember::virtio {

class SyncBackend final : public BlockBackend {
public:
    explicit SyncBackend(UniqueFd fd) : fd_(std::move(fd)) {}

    Result<void> submit(const BlockOp& op) override;
    Result<void> kick() override { return ok(); }
    void reap(std::vector<BlockCompletion>& out) override;
    Result<void> drain() override { return ok(); }
    size_t max_in_flight() const override { return 1024; }
    BlockEngine engine() const override { return BlockEngine::kSync; }

private:
    int64_t run(const BlockOp& op) const;

    UniqueFd fd_;
    std::vector<BlockCompletion> done_;
};

}  // namespace ember::virtio
