#include "vmm/snapshot/memory_file.h"

#include <fcntl.h>
#include <fmt/core.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>

#include "vmm/base/file_open.h"
#include "vmm/base/log.h"
#include "vmm/base/unique_fd.h"
#include "vmm/snapshot/hugetlbfs_file.h"

namespace ember::snapshot {
namespace {

bool is_zero_page(const uint8_t* page) {
    for (size_t i = 0; i < kPageSize; i += sizeof(uint64_t)) {
        uint64_t word;
        std::memcpy(&word, page + i, sizeof(word));
        if (word != 0) return false;
    }
    return true;
}

Result<void> pwrite_all(int fd, const uint8_t* data, size_t len, uint64_t offset) {
    while (len > 0) {
        ssize_t n = ::pwrite(fd, data, len, static_cast<off_t>(offset));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return Error::from_errno("write memory file");
        data += n;
        len -= static_cast<size_t>(n);
        offset += static_cast<uint64_t>(n);
    }
    return ok();
}

enum class FileKind : uint8_t { kFull, kDiff };

// Lays the chunks out back to back and writes the pages `wanted` picks, coalescing runs of them
// into one write each: pwrite(2), or a copy into a shared mapping on hugetlbfs (which has no
// write(2) and keeps no holes, so a diff, whose holes mean "unchanged", cannot go there).
template <typename Wanted>
Result<MemoryFileLayout> write_pages(const std::string& path, std::span<const MemoryChunk> chunks,
                                     FileKind kind, Wanted wanted) {
    MemoryFileLayout layout;
    for (const MemoryChunk& c : chunks) {
        if (c.bytes.size() % kPageSize != 0 || c.gpa % kPageSize != 0) {
            return Error::invalid("write memory file", "region not page-aligned");
        }
        layout.regions.push_back(
            {.gpa = c.gpa, .size_bytes = c.bytes.size(), .file_offset = layout.file_size_bytes});
        layout.file_size_bytes += c.bytes.size();
    }
    UniqueFd fd =
        EMBER_TRY(open_named_file(path, FileAccess::kTruncateOrCreate, FileKinds::kRegular,
                                  IoMode::kBlocking, "open memory file"))
            .fd;
    const bool huge = EMBER_TRY(on_hugetlbfs_2m(fd.get()));
    MmapRegion shared;
    if (huge && kind == FileKind::kDiff) {
        return Error::invalid("write diff memory file",
                              path +
                                  " is on hugetlbfs, which cannot keep the holes that mark the "
                                  "pages a diff did not write; write diffs to another "
                                  "filesystem");
    }
    if (huge) {
        Result<MmapRegion> mapped = map_hugetlbfs_for_writing(fd.get(), layout.file_size_bytes);
        if (!mapped) return mapped.error().within("write memory file", path);
        shared = std::move(*mapped);
    } else if (::ftruncate(fd.get(), static_cast<off_t>(layout.file_size_bytes)) < 0) {
        return Error::from_errno("ftruncate memory file", path);
    }
    for (size_t ci = 0; ci < chunks.size(); ++ci) {
        const MemoryChunk& c = chunks[ci];
        uint64_t pages = c.bytes.size() / kPageSize;
        uint64_t page = 0;
        while (page < pages) {
            if (!wanted(ci, page)) {
                ++page;
                continue;
            }
            uint64_t run_end = page + 1;
            while (run_end < pages && wanted(ci, run_end)) ++run_end;
            const uint8_t* data = c.bytes.data() + page * kPageSize;
            const uint64_t len = (run_end - page) * kPageSize;
            const uint64_t offset = layout.regions[ci].file_offset + page * kPageSize;
            if (huge) {
                std::memcpy(shared.data() + offset, data, len);
            } else if (Result<void> written = pwrite_all(fd.get(), data, len, offset); !written) {
                return Error(written.error().code(), "write memory file", path);
            }
            layout.pages_written += run_end - page;
            page = run_end;
        }
    }
    if (!huge && ::fsync(fd.get()) < 0) return Error::from_errno("fsync memory file", path);
    return layout;
}

}  // namespace

std::vector<MemoryChunk> chunks_of(const GuestMemory& memory) {
    std::vector<MemoryChunk> chunks;
    for (const GuestMemory::Region& r : memory.regions()) {
        chunks.push_back({.gpa = r.start.value(), .bytes = {r.mapping.data(), r.mapping.size()}});
    }
    return chunks;
}

Result<MemoryFileLayout> write_full_memory(const std::string& path,
                                           std::span<const MemoryChunk> chunks) {
    return write_pages(path, chunks, FileKind::kFull, [&](size_t ci, uint64_t page) {
        return !is_zero_page(chunks[ci].bytes.data() + page * kPageSize);
    });
}

Result<MemoryFileLayout> write_diff_memory(const std::string& path,
                                           std::span<const MemoryChunk> chunks,
                                           std::span<const std::span<const uint64_t>> dirty) {
    if (dirty.size() != chunks.size()) {
        return Error::invalid("write diff memory file", "one dirty bitmap per region needed");
    }
    for (size_t ci = 0; ci < chunks.size(); ++ci) {
        uint64_t pages = chunks[ci].bytes.size() / kPageSize;
        if (dirty[ci].size() < (pages + 63) / 64) {
            return Error::invalid(
                "write diff memory file",
                fmt::format("dirty bitmap {} covers fewer than {} pages", ci, pages));
        }
    }
    return write_pages(path, chunks, FileKind::kDiff, [&](size_t ci, uint64_t page) {
        return (dirty[ci][page / 64] >> (page % 64)) & 1;
    });
}

namespace {

// /proc/self/pagemap's entry bits (Documentation/admin-guide/mm/pagemap.rst).
constexpr uint64_t kPagemapPresent = 1ull << 63;
constexpr uint64_t kPagemapSwapped = 1ull << 62;
constexpr uint64_t kPagemapFileOrSharedAnon = 1ull << 61;

// The pages of `region` that hold private anonymous memory, from /proc/self/pagemap (8 bytes a
// page, read 64 KiB at a time: 2 MiB for 1 GiB of RAM); none when pagemap cannot be read (a jail
// without /proc).
std::optional<std::vector<uint64_t>> private_pages(std::span<const uint8_t> region) {
    UniqueFd fd(::open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC));
    if (!fd) {
        EMBER_WARN("Diff snapshot: /proc/self/pagemap: {}; saving every resident page instead",
                   std::strerror(errno));
        return std::nullopt;
    }
    const uint64_t pages = region.size() / kPageSize;
    std::vector<uint64_t> bitmap((pages + 63) / 64, 0);
    std::vector<uint64_t> entries(8192);
    const uint64_t first = reinterpret_cast<uintptr_t>(region.data()) / kPageSize;
    for (uint64_t p = 0; p < pages;) {
        const uint64_t want = std::min<uint64_t>(entries.size(), pages - p);
        const ssize_t n = ::pread(fd.get(), entries.data(), want * sizeof(uint64_t),
                                  static_cast<off_t>((first + p) * sizeof(uint64_t)));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0 || n % static_cast<ssize_t>(sizeof(uint64_t)) != 0) {
            EMBER_WARN(
                "Diff snapshot: reading /proc/self/pagemap: {}; saving every resident page "
                "instead",
                n < 0 ? std::strerror(errno) : "short read");
            return std::nullopt;
        }
        const uint64_t got = static_cast<uint64_t>(n) / sizeof(uint64_t);
        for (uint64_t i = 0; i < got; ++i) {
            const uint64_t e = entries[i];
            if ((e & (kPagemapPresent | kPagemapSwapped)) && !(e & kPagemapFileOrSharedAnon)) {
                bitmap[(p + i) / 64] |= 1ull << ((p + i) % 64);
            }
        }
        p += got;
    }
    return bitmap;
}

}  // namespace

Result<std::vector<uint64_t>> resident_pages(std::span<const uint8_t> region) {
    if (std::optional<std::vector<uint64_t>> written = private_pages(region)) return *written;
    uint64_t pages = region.size() / kPageSize;
    std::vector<unsigned char> vec(pages);
    if (pages > 0 &&
        ::mincore(const_cast<uint8_t*>(region.data()), region.size(), vec.data()) < 0) {
        return Error::from_errno("mincore");
    }
    std::vector<uint64_t> bitmap((pages + 63) / 64, 0);
    for (uint64_t p = 0; p < pages; ++p) {
        if (vec[p] & 1) bitmap[p / 64] |= 1ull << (p % 64);
    }
    return bitmap;
}

namespace {

// A merge input: a regular file (O_NONBLOCK, so a FIFO in its place fails instead of blocking).
Result<UniqueFd> open_merge_file(const std::string& path, int flags, const char* what,
                                 struct stat& st) {
    UniqueFd fd(::open(path.c_str(), flags | O_NONBLOCK | O_CLOEXEC));
    if (!fd) return Error::from_errno(what, path);
    if (::fstat(fd.get(), &st) < 0) return Error::from_errno("fstat", path);
    if (!S_ISREG(st.st_mode)) return Error::invalid(what, path + ": not a regular file");
    return fd;
}

Result<size_t> pread_full(int fd, uint8_t* data, size_t len, off_t at, const std::string& path) {
    size_t done = 0;
    while (done < len) {
        ssize_t n = ::pread(fd, data + done, len - done, at + static_cast<off_t>(done));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return Error::from_errno("read memory file", path);
        if (n == 0) return Error::invalid("memory file shrank while merging", path);
        done += static_cast<size_t>(n);
    }
    return done;
}

// For a diff with no hole: the all-zero diff pages over base pages that hold data, i.e. what the
// merge would zero if those pages were never written.
struct ZeroedPages {
    uint64_t count = 0;
    uint64_t first_offset = 0;
};
Result<ZeroedPages> pages_a_dense_diff_would_zero(int base, const std::string& base_path, int diff,
                                                  const std::string& diff_path, off_t size) {
    ZeroedPages zeroed;
    std::vector<uint8_t> diff_buf(1 << 20), base_buf(1 << 20);
    for (off_t at = 0; at < size;) {
        size_t len =
            static_cast<size_t>(std::min<off_t>(size - at, static_cast<off_t>(diff_buf.size())));
        EMBER_TRY(pread_full(diff, diff_buf.data(), len, at, diff_path));
        bool base_read = false;
        for (size_t page = 0; page < len; page += kPageSize) {
            if (!is_zero_page(diff_buf.data() + page)) continue;
            if (!base_read) {
                EMBER_TRY(pread_full(base, base_buf.data(), len, at, base_path));
                base_read = true;
            }
            if (is_zero_page(base_buf.data() + page)) continue;
            if (zeroed.count++ == 0) zeroed.first_offset = static_cast<uint64_t>(at) + page;
        }
        at += static_cast<off_t>(len);
    }
    return zeroed;
}

}  // namespace

Result<MergeStats> merge_diff(const std::string& base_path, const std::string& diff_path,
                              DenseDiff dense) {
    struct stat base_st {
    }, diff_st{};
    UniqueFd base = EMBER_TRY(open_merge_file(base_path, O_RDWR, "open base memory file", base_st));
    UniqueFd diff =
        EMBER_TRY(open_merge_file(diff_path, O_RDONLY, "open diff memory file", diff_st));
    if (base_st.st_size != diff_st.st_size) {
        return Error::invalid("diff does not match its base",
                              fmt::format("{} is {} bytes, {} is {} bytes", base_path,
                                          base_st.st_size, diff_path, diff_st.st_size));
    }
    if (diff_st.st_size % static_cast<off_t>(kPageSize) != 0) {
        return Error::invalid("memory files are not a whole number of pages",
                              fmt::format("{}: {} bytes", diff_path, diff_st.st_size));
    }
    // Without a hole, an all-zero page may be one the snapshot never wrote: copying it would
    // lose the base's data there. Check before writing anything.
    bool has_hole = diff_st.st_size == 0 || ::lseek(diff.get(), 0, SEEK_DATA) != 0 ||
                    ::lseek(diff.get(), 0, SEEK_HOLE) != diff_st.st_size;
    if (!has_hole && dense == DenseDiff::kRefuse) {
        ZeroedPages zeroed = EMBER_TRY(pages_a_dense_diff_would_zero(
            base.get(), base_path, diff.get(), diff_path, diff_st.st_size));
        if (zeroed.count > 0) {
            return Error::invalid(
                "diff has no holes",
                fmt::format("{} has no holes, so its all-zero pages cannot be told from pages the "
                            "snapshot did not write, and {} of them (the first at offset {:#x}) "
                            "would zero data in {}; it was likely copied without its holes (copy "
                            "diffs with cp or rsync --sparse); if every page of it was written, "
                            "merge with --dense",
                            diff_path, zeroed.count, zeroed.first_offset, base_path));
        }
    }
    MergeStats stats;
    std::vector<uint8_t> buffer(1 << 20);
    off_t pos = 0;
    while (pos < diff_st.st_size) {
        off_t data = ::lseek(diff.get(), pos, SEEK_DATA);
        if (data < 0 && errno == ENXIO) break;  // Only holes from here to the end.
        if (data < 0) return Error::from_errno("lseek SEEK_DATA", diff_path);
        off_t hole = ::lseek(diff.get(), data, SEEK_HOLE);
        if (hole < 0) return Error::from_errno("lseek SEEK_HOLE", diff_path);
        hole = std::min(hole, diff_st.st_size);  // Never past the size checked above.
        ++stats.extents;
        for (off_t at = data; at < hole;) {
            size_t want =
                static_cast<size_t>(std::min<off_t>(hole - at, static_cast<off_t>(buffer.size())));
            ssize_t n = ::pread(diff.get(), buffer.data(), want, at);
            if (n < 0 && errno == EINTR) continue;
            if (n < 0) return Error::from_errno("read diff memory file", diff_path);
            if (n == 0) return Error::invalid("diff memory file shrank while merging", diff_path);
            Result<void> written = pwrite_all(base.get(), buffer.data(), static_cast<size_t>(n),
                                              static_cast<uint64_t>(at));
            if (!written) return Error(written.error().code(), "write base memory file", base_path);
            at += n;
            stats.bytes_copied += static_cast<uint64_t>(n);
        }
        pos = hole;
    }
    if (::fsync(base.get()) < 0) return Error::from_errno("fsync base memory file", base_path);
    return stats;
}

Result<GuestMemory> map_memory_file(const std::string& path,
                                    std::span<const MemoryRegionState> regions) {
    UniqueFd fd = EMBER_TRY(open_named_file(path, FileAccess::kReadOnly, FileKinds::kRegular,
                                            IoMode::kBlocking, "open memory file"))
                      .fd;
    struct stat st {};
    if (::fstat(fd.get(), &st) < 0) return Error::from_errno("fstat memory file", path);
    const bool huge = EMBER_TRY(on_hugetlbfs_2m(fd.get()));
    std::vector<GuestMemory::Region> mapped;
    for (const MemoryRegionState& r : regions) {
        if (r.file_offset + r.size_bytes > static_cast<uint64_t>(st.st_size)) {
            return Error::invalid(
                "memory file too short for the snapshot",
                fmt::format("{}: region at gpa {:#x} needs {} bytes, file has {}", path, r.gpa,
                            r.file_offset + r.size_bytes, st.st_size));
        }
        Result<MmapRegion> mapping =
            huge ? map_hugetlbfs_private(fd.get(), r.size_bytes, r.file_offset)
                 : MmapRegion::of_file(fd.get(), r.size_bytes, static_cast<off_t>(r.file_offset),
                                       PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_NORESERVE);
        if (!mapping) return mapping.error().within("map memory file", path);
        mapped.push_back({.start = GuestAddress(r.gpa), .mapping = std::move(*mapping)});
    }
    return GuestMemory::from_regions(std::move(mapped),
                                     huge ? PageBacking::kHugetlb2M : PageBacking::kSmall);
}

}  // namespace ember::snapshot
