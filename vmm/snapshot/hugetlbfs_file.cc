#include "vmm/snapshot/hugetlbfs_file.h"

#include <fmt/core.h>
#include <linux/magic.h>
#include <sys/mman.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "vmm/memory/huge_page_pool.h"

namespace ember::snapshot {
namespace {

Result<void> check_2m_multiple(uint64_t value, const char* what) {
    if (value % kHugePage2MBytes != 0) {
        return Error::invalid("hugetlbfs memory file",
                              fmt::format("{} {:#x} is not a multiple of 2 MiB", what, value));
    }
    return ok();
}

Error shortage(int err, uint64_t bytes, const char* what) {
    return Error(std::error_code(err, std::system_category()), what,
                 huge_page_shortage(bytes / kHugePage2MBytes, HugePagePool::read()));
}

}  // namespace

Result<bool> on_hugetlbfs_2m(int fd) {
    struct statfs fs {};
    if (::fstatfs(fd, &fs) < 0) return Error::from_errno("fstatfs memory file");
    if (static_cast<uint64_t>(fs.f_type) != HUGETLBFS_MAGIC) return false;
    if (static_cast<uint64_t>(fs.f_bsize) != kHugePage2MBytes) {
        return Error::invalid("hugetlbfs memory file",
                              fmt::format("the mount's pages are {} KiB; Ember's guest memory uses "
                                          "2 MiB pages",
                                          fs.f_bsize / 1024));
    }
    return true;
}

Result<MmapRegion> map_hugetlbfs_for_writing(int fd, uint64_t size_bytes) {
    EMBER_TRY(check_2m_multiple(size_bytes, "size"));
    if (::ftruncate(fd, static_cast<off_t>(size_bytes)) < 0) {
        return Error::from_errno("ftruncate hugetlbfs memory file");
    }
    Result<MmapRegion> mapping =
        MmapRegion::of_file(fd, size_bytes, 0, PROT_READ | PROT_WRITE, MAP_SHARED);
    if (!mapping && mapping.error().code().value() == ENOMEM) {
        return shortage(ENOMEM, size_bytes, "map hugetlbfs memory file");
    }
    return mapping;
}

Result<MmapRegion> map_hugetlbfs_private(int fd, uint64_t size_bytes, uint64_t offset) {
    EMBER_TRY(check_2m_multiple(size_bytes, "region size"));
    EMBER_TRY(check_2m_multiple(offset, "region offset"));
    Result<MmapRegion> mapping = MmapRegion::of_file(fd, size_bytes, static_cast<off_t>(offset),
                                                     PROT_READ | PROT_WRITE, MAP_PRIVATE);
    if (!mapping && mapping.error().code().value() == ENOMEM) {
        return shortage(ENOMEM, size_bytes, "map hugetlbfs memory file");
    }
    return mapping;
}

}  // namespace ember::snapshot
