#include "vmm/base/mmap_region.h"

namespace ember {

MmapRegion& MmapRegion::operator=(MmapRegion&& other) noexcept {
    if (this != &other) {
        if (addr_) ::munmap(addr_, size_);
        addr_ = std::exchange(other.addr_, nullptr);
        size_ = std::exchange(other.size_, 0);
    }
    return *this;
}

MmapRegion::~MmapRegion() {
    if (addr_) ::munmap(addr_, size_);
}

Result<MmapRegion> MmapRegion::anonymous(size_t size_bytes, int prot, int extra_flags) {
    if (size_bytes == 0) return Error::invalid("mmap", "zero-sized mapping");
    void* p = ::mmap(nullptr, size_bytes, prot, MAP_PRIVATE | MAP_ANONYMOUS | extra_flags, -1, 0);
    if (p == MAP_FAILED) return Error::from_errno("mmap");
    return MmapRegion(p, size_bytes);
}

Result<MmapRegion> MmapRegion::of_file(int fd, size_t size_bytes, off_t offset, int prot,
                                       int flags) {
    if (size_bytes == 0) return Error::invalid("mmap", "zero-sized mapping");
    void* p = ::mmap(nullptr, size_bytes, prot, flags, fd, offset);
    if (p == MAP_FAILED) return Error::from_errno("mmap");
    return MmapRegion(p, size_bytes);
}

}  // namespace ember
