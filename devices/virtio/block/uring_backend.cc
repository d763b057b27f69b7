#include "devices/virtio/block/uring_backend.h"

#include <linux/falloc.h>

namespace ember::virtio {

Result<std::unique_ptr<UringBackend>> UringBackend::create(UniqueFd fd,
                                                           const EventFd& completions) {
    std::unique_ptr<UringBackend> backend(new UringBackend(std::move(fd), completions));
    int rc = io_uring_queue_init(kEntries, &backend->ring_, 0);
    if (rc < 0) return Error::from_errno(-rc, "io_uring_queue_init");
    backend->ring_ready_ = true;
    const int files[1] = {backend->fd_.get()};
    rc = io_uring_register_files(&backend->ring_, files, 1);
    if (rc < 0) return Error::from_errno(-rc, "io_uring_register_files");
    rc = io_uring_register_eventfd(&backend->ring_, backend->event_.fd());
    if (rc < 0) return Error::from_errno(-rc, "io_uring_register_eventfd");
    return backend;
}

UringBackend::~UringBackend() {
    if (!ring_ready_) return;
    // The kernel may still write into guest memory for ops in flight: wait for them first.
    (void)drain();
    io_uring_queue_exit(&ring_);
}

Result<void> UringBackend::submit(const BlockOp& op) {
    if (in_flight_ >= kEntries) return Error::from_errno(EAGAIN, "io_uring submit");
    io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
    if (!sqe) {
        EMBER_TRY(kick());
        sqe = io_uring_get_sqe(&ring_);
        if (!sqe) return Error::from_errno(EAGAIN, "io_uring submit");
    }
    constexpr int kFixedFile = 0;
    // Offsets and lengths were checked against the disk's size, an off_t, so they fit one.
    switch (op.kind) {
        case BlockOpKind::kRead:
            io_uring_prep_readv(sqe, kFixedFile, op.iov.data(),
                                static_cast<unsigned>(op.iov.size()), op.offset_bytes);
            break;
        case BlockOpKind::kWrite:
            io_uring_prep_writev(sqe, kFixedFile, op.iov.data(),
                                 static_cast<unsigned>(op.iov.size()), op.offset_bytes);
            break;
        case BlockOpKind::kFlush:
            io_uring_prep_fsync(sqe, kFixedFile, IORING_FSYNC_DATASYNC);
            break;
        case BlockOpKind::kDiscard:
            io_uring_prep_fallocate(sqe, kFixedFile, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                                    static_cast<off_t>(op.offset_bytes),
                                    static_cast<off_t>(op.len_bytes));
            break;
        case BlockOpKind::kWriteZeroes:
            io_uring_prep_fallocate(sqe, kFixedFile, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE,
                                    static_cast<off_t>(op.offset_bytes),
                                    static_cast<off_t>(op.len_bytes));
            break;
    }
    sqe->flags |= IOSQE_FIXED_FILE;
    io_uring_sqe_set_data64(sqe, op.user_data);
    ++in_flight_;
    return ok();
}

Result<void> UringBackend::kick() {
    const int rc = io_uring_submit(&ring_);
    if (rc < 0) return Error::from_errno(-rc, "io_uring_submit");
    return ok();
}

void UringBackend::collect(io_uring_cqe* cqe) {
    done_.push_back({io_uring_cqe_get_data64(cqe), cqe->res});
    io_uring_cqe_seen(&ring_, cqe);
    --in_flight_;
}

void UringBackend::reap(std::vector<BlockCompletion>& out) {
    // Clear the eventfd before looking, so a completion arriving after the scan re-signals it.
    (void)event_.read();
    io_uring_cqe* cqe = nullptr;
    while (in_flight_ > 0 && io_uring_peek_cqe(&ring_, &cqe) == 0) collect(cqe);
    out.insert(out.end(), done_.begin(), done_.end());
    done_.clear();
}

Result<void> UringBackend::drain() {
    EMBER_TRY(kick());
    while (in_flight_ > 0) {
        io_uring_cqe* cqe = nullptr;
        const int rc = io_uring_wait_cqe(&ring_, &cqe);
        if (rc == -EINTR) continue;
        if (rc < 0) return Error::from_errno(-rc, "io_uring_wait_cqe");
        collect(cqe);
    }
    return ok();
}

}  // namespace ember::virtio
