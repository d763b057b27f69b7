// Faulting in pages of a mapping ahead of use, one madvise per run of pages, so that nobody takes
// the faults one page at a time later (under nested virtualization each costs tens of
// microseconds, and a clone's first answer waits on thousands).
#pragma once

#include <cstddef>
#include <cstdint>

#include "vmm/base/result.h"

namespace ember::snapshot {

enum class Populate {
    kRead,   // Map the pages: a file's page-cache pages, shared with every other mapping.
    kWrite,  // Also break copy-on-write: a private mapping gets its own copy of each page.
};

// Populates [start, start + len) (page-aligned) with MADV_POPULATE_READ or _WRITE (Linux 5.14).
// Where the kernel lacks them (EINVAL), each page is touched instead (a write stores the byte it
// read): the same faults, one at a time. The caller owns the mapping and nobody else writes it
// meanwhile (a paused guest's memory). Other errors are returned (EFAULT: a page past the file's
// end; ENOMEM: no memory for the copies).
Result<void> populate_pages(uint8_t* start, size_t len, size_t page_size, Populate how);

}  // namespace ember::snapshot
