#include "vmm/base/mmap_region.h"

namespace ember {
namespace {
// MAP_HUGE_2MB (log2 of the page size above MAP_HUGE_SHIFT); glibc's <sys/mman.h> lacks the name.
constexpr int kMapHuge2MB = 21 << MAP_HUGE_SHIFT;
}  // namespace

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

Result<MmapRegion> MmapRegion::anonymous_aligned(size_t size_bytes, size_t alignment) {
    if (size_bytes == 0) return Error::invalid("mmap", "zero-sized mapping");
    if (alignment == 0 || (alignment & (alignment - 1)) != 0) {
        return Error::invalid("mmap", "alignment is not a power of two");
    }
    // Over-allocate, then give back the unaligned head and the tail: the one place besides the
    // destructor that unmaps, and only what this function itself just mapped.
    const size_t reserved = size_bytes + alignment;
    void* p = ::mmap(nullptr, reserved, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) return Error::from_errno("mmap");
    // Offsets from the reservation's start, so the pointers stay derived from mmap's.
    const auto start = reinterpret_cast<uintptr_t>(p);
    const size_t head = ((start + alignment - 1) & ~(uintptr_t{alignment} - 1)) - start;
    uint8_t* const base = static_cast<uint8_t*>(p);
    if (head > 0) ::munmap(base, head);
    const size_t tail = reserved - (head + size_bytes);
    if (tail > 0) ::munmap(base + head + size_bytes, tail);
    return MmapRegion(base + head, size_bytes);
}

Result<MmapRegion> MmapRegion::anonymous_huge_2m(size_t size_bytes) {
    if (size_bytes == 0 || size_bytes % kHugePage2MBytes != 0) {
        return Error::invalid("mmap", "a hugetlb mapping must be a non-zero multiple of 2 MiB");
    }
    void* p = ::mmap(nullptr, size_bytes, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | kMapHuge2MB, -1, 0);
    if (p == MAP_FAILED) return Error::from_errno("mmap MAP_HUGETLB");
    return MmapRegion(p, size_bytes);
}

Result<MmapRegion> MmapRegion::of_file(int fd, size_t size_bytes, off_t offset, int prot,
                                       int flags) {
    if (size_bytes == 0) return Error::invalid("mmap", "zero-sized mapping");
    void* p = ::mmap(nullptr, size_bytes, prot, flags, fd, offset);
    if (p == MAP_FAILED) return Error::from_errno("mmap");
    return MmapRegion(p, size_bytes);
}

Result<void> MmapRegion::advise(int advice) const {
    if (::madvise(addr_, size_, advice) < 0) return Error::from_errno("madvise");
    return ok();
}

}  // namespace ember
