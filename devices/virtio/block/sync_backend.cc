#include "devices/virtio/block/sync_backend.h"

#include <fcntl.h>
#include <linux/falloc.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>

namespace ember::virtio {
namespace {

// Transfers all of `iov` at `offset`, resuming after short transfers; -errno on failure and
// -EIO on an early end of file.
template <typename Syscall>
int64_t transfer_all(Syscall syscall, std::span<const iovec> iov_in, uint64_t offset) {
    std::vector<iovec> iov(iov_in.begin(), iov_in.end());
    size_t first = 0;
    int64_t total = 0;
    while (first < iov.size()) {
        const int count = static_cast<int>(std::min<size_t>(iov.size() - first, IOV_MAX));
        const ssize_t n = syscall(iov.data() + first, count, static_cast<off_t>(offset));
        if (n < 0) {
            if (errno == EINTR) continue;
            return -errno;
        }
        if (n == 0) return -EIO;
        total += n;
        offset += static_cast<uint64_t>(n);
        size_t left = static_cast<size_t>(n);
        while (first < iov.size() && left >= iov[first].iov_len) {
            left -= iov[first].iov_len;
            ++first;
        }
        if (left > 0) {
            iov[first].iov_base = static_cast<uint8_t*>(iov[first].iov_base) + left;
            iov[first].iov_len -= left;
        }
        while (first < iov.size() && iov[first].iov_len == 0) ++first;
    }
    return total;
}

}  // namespace

int64_t SyncBackend::run(const BlockOp& op) const {
    const int fd = fd_.get();
    switch (op.kind) {
        case BlockOpKind::kRead:
            return transfer_all(
                [fd](const iovec* v, int n, off_t o) { return ::preadv(fd, v, n, o); }, op.iov,
                op.offset_bytes);
        case BlockOpKind::kWrite:
            return transfer_all(
                [fd](const iovec* v, int n, off_t o) { return ::pwritev(fd, v, n, o); }, op.iov,
                op.offset_bytes);
        case BlockOpKind::kFlush: return ::fdatasync(fd) == 0 ? 0 : -errno;
        case BlockOpKind::kDiscard:
            return ::fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                               static_cast<off_t>(op.offset_bytes),
                               static_cast<off_t>(op.len_bytes)) == 0
                       ? 0
                       : -errno;
        case BlockOpKind::kWriteZeroes: {
            if (::fallocate(fd, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE,
                            static_cast<off_t>(op.offset_bytes),
                            static_cast<off_t>(op.len_bytes)) == 0) {
                return 0;
            }
            if (errno != EOPNOTSUPP) return -errno;
            // Some filesystems lack ZERO_RANGE; a punched hole reads back as zeros too.
            return ::fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                               static_cast<off_t>(op.offset_bytes),
                               static_cast<off_t>(op.len_bytes)) == 0
                       ? 0
                       : -errno;
        }
    }
    return -EINVAL;
}

Result<void> SyncBackend::submit(const BlockOp& op) {
    done_.push_back({op.user_data, run(op)});
    return ok();
}

void SyncBackend::reap(std::vector<BlockCompletion>& out) {
    out.insert(out.end(), done_.begin(), done_.end());
    done_.clear();
}

}  // namespace ember::virtio
