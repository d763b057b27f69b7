#include "vmm/snapshot/page_populate.h"

#include <sys/mman.h>

#include <cerrno>

namespace ember::snapshot {
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

}  // namespace ember::snapshot
