// A recorded working set applied to a File-backend clone before it resumes (Ember's extension
// mem_backend.working_set_path): the pages the recording invocation wrote are copied into the
// clone now, in runs, instead of one copy-on-write fault each while the guest answers; the pages
// it only read are mapped from the page cache, still shared with every clone. A page the record
// does not mark written stays shared until the guest writes it, so the clone owns no more memory
// than its guest will dirty. Thread: ember's vmm thread, while it loads a snapshot.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "vmm/base/result.h"
#include "vmm/memory/guest_memory.h"
#include "vmm/snapshot/machine_state.h"

namespace ember::snapshot {

struct FilePopulateStats {
    uint64_t pages = 0;          // Recorded pages inside the guest's regions.
    uint64_t written_pages = 0;  // Of those, copied (MADV_POPULATE_WRITE).
    uint64_t runs = 0;
    double ms = 0;  // Reading and checking the record included.
};

// Reads the record at `record_path`, refuses it unless it was recorded from `memory_path` (size
// and fingerprint) with `memory`'s page size, then populates its pages in `memory`, the File
// mapping of `regions` (the snapshot's, in `memory`'s order). Pages outside every region are left
// out, as the handler does.
Result<FilePopulateStats> populate_file_working_set(const GuestMemory& memory,
                                                    std::span<const MemoryRegionState> regions,
                                                    const std::string& memory_path,
                                                    const std::string& record_path);

}  // namespace ember::snapshot
