#include "vmm/memory/page_populate.h"

#include <sys/mman.h>

#include <cerrno>

namespace ember {
namespace {

// Spelled out for older headers (Linux 5.14 added both).
constexpr int kMadvPopulateRead = 22;
constexpr int kMadvPopulateWrite = 23;

}  // namespace

Result<void> populate_pages(uint8_t* start, size_t len, size_t page_size, Populate how) {
    const bool write = how == Populate::kWrite;
    if (::madvise(start, len, write ? kMadvPopulateWrite : kMadvPopulateRead) == 0) return ok();
    if (errno != EINVAL) {
        return Error::from_errno(write ? "madvise(MADV_POPULATE_WRITE)"
                                       : "madvise(MADV_POPULATE_READ)");
    }
    // Volatile, so that neither the read nor the write of the same value is optimized away.
    volatile uint8_t* bytes = start;
    for (size_t i = 0; i < len; i += page_size) {
        const uint8_t value = bytes[i];
        if (write) bytes[i] = value;
    }
    return ok();
}

void prefault_for_copy(std::span<uint8_t> bytes) {
    constexpr uintptr_t kPage = 4096;
    const uintptr_t start = (reinterpret_cast<uintptr_t>(bytes.data()) + kPage - 1) & ~(kPage - 1);
    const uintptr_t end = (reinterpret_cast<uintptr_t>(bytes.data()) + bytes.size()) & ~(kPage - 1);
    if (end <= start) return;
    // Only MADV_POPULATE_WRITE: the page-by-page fallback would take the same faults as the copy.
    static_cast<void>(::madvise(reinterpret_cast<void*>(start), end - start, kMadvPopulateWrite));
}

}  // namespace ember
