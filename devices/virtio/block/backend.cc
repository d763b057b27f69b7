#include "devices/virtio/block/backend.h"

#include <fcntl.h>
#include <fmt/core.h>
#include <sys/stat.h>
#include <unistd.h>

#include "devices/virtio/block/sync_backend.h"
#include "devices/virtio/block/uring_backend.h"
#include "vmm/base/file_open.h"

namespace ember::virtio {

Result<DiskFile> DiskFile::open(const std::string& path, Access access) {
    // Never blocks, and refuses a FIFO, directory or character device (e.g. /dev/kmsg).
    NamedFile file = EMBER_TRY(open_named_file(
        path, access == Access::kReadOnly ? FileAccess::kReadOnly : FileAccess::kReadWrite,
        FileKinds::kRegularOrBlockDevice, IoMode::kBlocking, "open disk"));
    UniqueFd fd = std::move(file.fd);
    const struct stat& st = file.st;
    off_t end = ::lseek(fd.get(), 0, SEEK_END);
    if (end < 0) return Error::from_errno("lseek disk", path);
    std::string id = fmt::format("{}{}{}", st.st_dev, st.st_rdev, st.st_ino);
    if (id.size() > 20) id.resize(20);
    return DiskFile{std::move(fd), static_cast<uint64_t>(end), std::move(id)};
}

Result<std::unique_ptr<BlockBackend>> make_block_backend(BlockEngine engine, UniqueFd fd,
                                                         const EventFd* completions) {
    if (engine == BlockEngine::kSync) {
        return std::unique_ptr<BlockBackend>(std::make_unique<SyncBackend>(std::move(fd)));
    }
    if (!completions) return Error::invalid("io_uring backend", "no completion eventfd");
    auto uring = EMBER_TRY(UringBackend::create(std::move(fd), *completions));
    return std::unique_ptr<BlockBackend>(std::move(uring));
}

}  // namespace ember::virtio
