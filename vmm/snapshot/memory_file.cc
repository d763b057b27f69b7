#include "vmm/snapshot/memory_file.h"

#include <fcntl.h>
#include <fmt/core.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "vmm/base/file_open.h"
#include "vmm/base/unique_fd.h"

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

Result<UniqueFd> create_file(const std::string& path, uint64_t size) {
    UniqueFd fd = EMBER_TRY(open_named_file(path, FileAccess::kTruncateOrCreate, FileKinds::kRegular,
                                            IoMode::kBlocking, "open memory file")).fd;
    if (::ftruncate(fd.get(), static_cast<off_t>(size)) < 0) {
        return Error::from_errno("ftruncate memory file", path);
    }
    return fd;
}

// Lays the chunks out back to back and writes the pages `wanted` picks, coalescing runs of them
// into one pwrite each.
template <typename Wanted>
Result<MemoryFileLayout> write_pages(const std::string& path, std::span<const MemoryChunk> chunks,
                                     Wanted wanted) {
    MemoryFileLayout layout;
    for (const MemoryChunk& c : chunks) {
        if (c.bytes.size() % kPageSize != 0 || c.gpa % kPageSize != 0) {
            return Error::invalid("write memory file", "region not page-aligned");
        }
        layout.regions.push_back(
            {.gpa = c.gpa, .size_bytes = c.bytes.size(), .file_offset = layout.file_size_bytes});
        layout.file_size_bytes += c.bytes.size();
    }
    UniqueFd fd = EMBER_TRY(create_file(path, layout.file_size_bytes));
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
            Result<void> written = pwrite_all(fd.get(), c.bytes.data() + page * kPageSize,
                                              (run_end - page) * kPageSize,
                                              layout.regions[ci].file_offset + page * kPageSize);
            if (!written) return Error(written.error().code(), "write memory file", path);
            layout.pages_written += run_end - page;
            page = run_end;
        }
    }
    if (::fsync(fd.get()) < 0) return Error::from_errno("fsync memory file", path);
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
    return write_pages(path, chunks, [&](size_t ci, uint64_t page) {
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
    return write_pages(path, chunks, [&](size_t ci, uint64_t page) {
        return (dirty[ci][page / 64] >> (page % 64)) & 1;
    });
}

Result<std::vector<uint64_t>> resident_pages(std::span<const uint8_t> region) {
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

Result<MergeStats> merge_diff(const std::string& base_path, const std::string& diff_path) {
    UniqueFd base(::open(base_path.c_str(), O_WRONLY | O_CLOEXEC));
    if (!base) return Error::from_errno("open base memory file", base_path);
    UniqueFd diff(::open(diff_path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!diff) return Error::from_errno("open diff memory file", diff_path);
    struct stat base_st {
    }, diff_st{};
    if (::fstat(base.get(), &base_st) < 0) return Error::from_errno("fstat", base_path);
    if (::fstat(diff.get(), &diff_st) < 0) return Error::from_errno("fstat", diff_path);
    if (base_st.st_size != diff_st.st_size) {
        return Error::invalid("diff does not match its base",
                              fmt::format("{} is {} bytes, {} is {} bytes", base_path,
                                          base_st.st_size, diff_path, diff_st.st_size));
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
                                            IoMode::kBlocking, "open memory file")).fd;
    struct stat st {};
    if (::fstat(fd.get(), &st) < 0) return Error::from_errno("fstat memory file", path);
    std::vector<GuestMemory::Region> mapped;
    for (const MemoryRegionState& r : regions) {
        if (r.file_offset + r.size_bytes > static_cast<uint64_t>(st.st_size)) {
            return Error::invalid(
                "memory file too short for the snapshot",
                fmt::format("{}: region at gpa {:#x} needs {} bytes, file has {}", path, r.gpa,
                            r.file_offset + r.size_bytes, st.st_size));
        }
        MmapRegion mapping =
            EMBER_TRY(MmapRegion::of_file(fd.get(), r.size_bytes, static_cast<off_t>(r.file_offset),
                                          PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_NORESERVE));
        mapped.push_back({.start = GuestAddress(r.gpa), .mapping = std::move(mapping)});
    }
    return GuestMemory::from_regions(std::move(mapped));
}

}  // namespace ember::snapshot
