#include "devices/virtio/block/backend.h"

#include <fcntl.h>
#include <fmt/core.h>
#include <sys/stat.h>
#include <unistd.h>

#include "devices/virtio/block/sync_backend.h"
#include "devices/virtio/block/uring_backend.h"

namespace ember::virtio {

Result<DiskFile> DiskFile::open(const std::string& path, Access access) {
    const int flags = (access == Access::kReadOnly ? O_RDONLY : O_RDWR) | O_CLOEXEC;
    UniqueFd fd(::open(path.c_str(), flags));
    if (!fd) return Error::from_errno("open disk", path);
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) return Error::from_errno("fstat disk", path);
    off_t end = ::lseek(fd.get(), 0, SEEK_END);
    if (end < 0) return Error::from_errno("lseek disk", path);
    std::string id = fmt::format("{}{}{}", st.st_dev, st.st_rdev, st.st_ino);
    if (id.size() > 20) id.resize(20);
    return DiskFile{std::move(fd), static_cast<uint64_t>(end), std::move(id)};
}

Result<std::unique_ptr<BlockBackend>> make_block_backend(BlockEngine engine, UniqueFd fd) {
    if (engine == BlockEngine::kSync) {
        return std::unique_ptr<BlockBackend>(std::make_unique<SyncBackend>(std::move(fd)));
    }
    auto uring = EMBER_TRY(UringBackend::create(std::move(fd)));
    return std::unique_ptr<BlockBackend>(std::move(uring));
}

}  // namespace ember::virtio
