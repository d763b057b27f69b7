// BlockBackend: how a block device reaches its backing file. The sync engine does the I/O inside
// submit(); the io_uring engine queues it and signals completions on the device's completion
// eventfd, which the event loop watches. Both return results through reap(), so the device has
// one code path.
// Thread: the vmm thread.
#pragma once

#include <sys/uio.h>

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "vmm/base/event_fd.h"
#include "vmm/base/result.h"
#include "vmm/base/unique_fd.h"
#include "vmm/config/vm_config.h"

namespace ember::virtio {

enum class BlockOpKind { kRead, kWrite, kFlush, kDiscard, kWriteZeroes };

struct BlockOp {
    BlockOpKind kind = BlockOpKind::kRead;
    uint64_t offset_bytes = 0;
    uint64_t len_bytes = 0;      // kDiscard, kWriteZeroes.
    std::span<const iovec> iov;  // kRead, kWrite: must stay valid until the op completes.
    uint64_t user_data = 0;
};

struct BlockCompletion {
    uint64_t user_data;
    int64_t result;  // Bytes transferred (0 for flush, discard, write zeroes) or -errno.
};

// The engines are the configuration's IoEngine (vmm/config): one enum from JSON to device.
class BlockBackend {
public:
    virtual ~BlockBackend() = default;

    // Queues (io_uring) or performs (sync) `op`. An error with EAGAIN means the submission queue
    // is full: the caller stops and retries after reaping.
    virtual Result<void> submit(const BlockOp& op) = 0;
    // Hands queued submissions to the kernel.
    virtual Result<void> kick() = 0;
    // Moves the completions that are ready into `out`.
    virtual void reap(std::vector<BlockCompletion>& out) = 0;
    // Waits until no op is in flight; the completions are then available to reap().
    virtual Result<void> drain() = 0;
    // How many ops may be in flight at once.
    virtual size_t max_in_flight() const = 0;
    virtual IoEngine engine() const = 0;
};

enum class Access { kReadOnly, kReadWrite };

// An open backing file: its fd, size and virtio-blk ID string.
struct DiskFile {
    UniqueFd fd;
    uint64_t size_bytes = 0;
    std::string id;  // st_dev, st_rdev and st_ino in decimal, as Firecracker (at most 20 bytes).

    static Result<DiskFile> open(const std::string& path, Access access);
};

// The backend of `engine` over `file` (the backend takes the fd). io_uring signals its completions
// on `completions`, which must be given and outlive the backend; the sync engine completes inside
// submit() and ignores it. A new backend for the same device reuses the same eventfd, so the
// event loop keeps watching one fd across PATCH /drives.
Result<std::unique_ptr<BlockBackend>> make_block_backend(IoEngine engine, UniqueFd fd,
                                                         const EventFd* completions);

}  // namespace ember::virtio
