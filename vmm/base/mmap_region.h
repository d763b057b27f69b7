// MmapRegion: the one owner of a memory mapping; unmaps it in its destructor.
#pragma once

#include <sys/mman.h>

#include <cstddef>
#include <cstdint>
#include <utility>

#include "vmm/base/result.h"

namespace ember {

inline constexpr size_t kHugePage2MBytes = size_t{2} << 20;

class MmapRegion {
public:
    MmapRegion() = default;
    MmapRegion(MmapRegion&& other) noexcept
        : addr_(std::exchange(other.addr_, nullptr)), size_(std::exchange(other.size_, 0)) {}
    MmapRegion& operator=(MmapRegion&& other) noexcept;
    MmapRegion(const MmapRegion&) = delete;
    MmapRegion& operator=(const MmapRegion&) = delete;
    ~MmapRegion();

    // Anonymous private memory, not reserved against overcommit (guest RAM is sparse).
    static Result<MmapRegion> anonymous(size_t size_bytes, int prot = PROT_READ | PROT_WRITE,
                                        int extra_flags = MAP_NORESERVE);
    // The same, starting at a multiple of `alignment` (a power of two). Guest RAM aligned to 2 MiB
    // lets transparent huge pages back whole 2 MiB guest pages, so KVM maps them with one nested
    // page table entry instead of 512 (QEMU aligns guest RAM the same way).
    static Result<MmapRegion> anonymous_aligned(size_t size_bytes, size_t alignment);
    // Anonymous private memory of 2 MiB hugetlb pages (`size_bytes` a multiple of 2 MiB), from
    // the host's pool. Reserved at mmap time, not MAP_NORESERVE: a pool too small then fails here
    // with ENOMEM instead of raising SIGBUS when a page is first touched.
    static Result<MmapRegion> anonymous_huge_2m(size_t size_bytes);
    // A mapping of `fd` from `offset`, e.g. a snapshot's memory file with MAP_PRIVATE.
    static Result<MmapRegion> of_file(int fd, size_t size_bytes, off_t offset, int prot, int flags);

    uint8_t* data() const { return static_cast<uint8_t*>(addr_); }
    size_t size() const { return size_; }
    bool valid() const { return addr_ != nullptr; }

    // madvise(2) over the whole mapping, e.g. MADV_HUGEPAGE.
    Result<void> advise(int advice) const;

private:
    MmapRegion(void* addr, size_t size) : addr_(addr), size_(size) {}

    void* addr_ = nullptr;
    size_t size_ = 0;
};

}  // namespace ember
