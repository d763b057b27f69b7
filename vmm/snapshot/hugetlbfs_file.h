// Memory files on a hugetlbfs mount of 2 MiB pages: the snapshot writer fills them through a
// shared mapping (hugetlbfs has no write(2)), and the File backend maps them MAP_PRIVATE, so a
// restored guest keeps 2 MiB pages shared with every clone until it writes one.
// Thread: the vmm thread, with every vCPU paused.
#pragma once

#include <cstdint>

#include "vmm/base/mmap_region.h"
#include "vmm/base/result.h"

namespace ember::snapshot {

// Whether `fd` is a file on hugetlbfs with 2 MiB pages. Another hugetlbfs page size is an error:
// Ember's guest memory uses 2 MiB pages only.
Result<bool> on_hugetlbfs_2m(int fd);

// A writable MAP_SHARED view of the whole file, first sized to `size_bytes` (a multiple of 2 MiB);
// its huge pages are reserved now, so a host pool too small is this error, which says how many
// pages are missing.
Result<MmapRegion> map_hugetlbfs_for_writing(int fd, uint64_t size_bytes);

// MAP_PRIVATE of [offset, offset + size_bytes) of a hugetlbfs file: reads share the file's pages,
// a guest write copies one 2 MiB page. The copies are reserved now (no MAP_NORESERVE), so a host
// pool too small fails the load here instead of the guest with SIGBUS on a later write.
Result<MmapRegion> map_hugetlbfs_private(int fd, uint64_t size_bytes, uint64_t offset);

}  // namespace ember::snapshot
